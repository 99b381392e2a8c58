"""Liveness, readiness and metrics for operators and orchestrators."""

from __future__ import annotations

import anyio
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from authgate.store.db import ping
from authgate.store.db_clock import SKEW_WARNING_SECONDS
from authgate.web.request_context import runtime_of, trusted_peer


async def healthz(request: Request) -> Response:
    # What arrived through the proxy: lets `authgate doctor` compare it with public_url.
    return JSONResponse({"status": "ok", "seen_scheme": request.url.scheme,
                         "seen_host": request.headers.get("host", "")})


async def readyz(request: Request) -> Response:
    runtime = runtime_of(request)
    try:
        await anyio.to_thread.run_sync(ping, runtime.engine)
    except Exception:
        return JSONResponse({"status": "unavailable", "database": "unreachable"},
                            status_code=503)
    body: dict[str, object] = {"status": "ready", "database": "ok"}
    skew = runtime.db_clock.skew
    if skew is not None:
        # Times are the database's whatever this says; a skewed clock still wants NTP.
        body["clock_skew_seconds"] = round(skew, 3)
        body["clock"] = "skewed" if abs(skew) > SKEW_WARNING_SECONDS else "ok"
    return JSONResponse(body)


async def metrics(request: Request) -> Response:
    if not trusted_peer(request):
        raise HTTPException(404)  # as if there were none: nothing to learn from outside
    return PlainTextResponse(generate_latest(), media_type=CONTENT_TYPE_LATEST)


routes = [
    Route("/healthz", healthz),
    Route("/readyz", readyz),
    Route("/metrics", metrics),
]
