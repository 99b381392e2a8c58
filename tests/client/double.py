"""A vault and a provider API in one small Starlette app, served by uvicorn on loopback in a
thread, so the sync client (over real sockets, from many threads) and the async one meet the same
server. It counts what the client does: token fetches, rejected API calls.

The vault's token route answers like authgate's; the API accepts only the current token and
answers ``stale_status`` (401) to any other. ``rotate()`` plays a refresh that happened elsewhere:
the held token stops working and the vault gives the next one.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import anyio
import anyio.to_thread
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

API_KEY = "agk_test_double_key"
HOLD_LIMIT = 30.0  # seconds a held route waits at most, so a broken client fails, not hangs


class VaultDouble:
    def __init__(self) -> None:
        self.url = ""  # set by serve()
        self.generation = 1
        self.expires_in: int | None = 3600
        self.stale_status = 401
        self.refuse_all = False   # the API refuses even the current token (a revoked grant, say)
        self.fetches = 0          # token requests the vault received
        self.answered = 0         # … and answered with a token
        self.api_calls = 0
        self.rejected = 0
        self.fetch_started = threading.Event()
        # While set, a token fetch waits for this event before it answers.
        self.hold: threading.Event | None = None
        self._reject_target = 0
        self._all_rejected = threading.Event()
        self.app = Starlette(routes=[
            Route("/api/v1/connections/{provider}/{owner}/token", self._token),
            Route("/api/thing", self._thing),
        ])

    @property
    def current(self) -> str:
        return f"tok-{self.generation}"

    def rotate(self) -> None:
        self.generation += 1

    def hold_fetches_until_rejected(self, count: int) -> None:
        """Token fetches from now on wait until ``count`` API calls have been rejected: the
        requests of a burst all hold their 401 before any fresh token can arrive."""
        self._reject_target = self.rejected + count
        self._all_rejected.clear()
        self.hold = self._all_rejected

    async def _token(self, request: Request) -> Response:
        if request.headers.get("authorization") != f"Bearer {API_KEY}":
            return JSONResponse({"error": "unauthorized", "detail": "unknown API key"}, 401)
        owner = request.path_params["owner"]
        if owner == "gone":
            return JSONResponse({"error": "needs_reauth", "detail": "hh: token was revoked"}, 409)
        if owner == "nobody":
            return JSONResponse({"error": "not_found", "detail": "no hh connection"}, 404)
        if owner == "busy":
            return JSONResponse({"error": "rate_limited", "detail": "slow down"}, 429,
                                headers={"Retry-After": "7"})
        if owner == "broken":  # not authgate's JSON: a proxy in front of it
            return HTMLResponse("<h1>502 Bad Gateway</h1>", 502)
        self.fetches += 1
        self.fetch_started.set()
        hold = self.hold
        if hold is not None and not await anyio.to_thread.run_sync(hold.wait, HOLD_LIMIT):
            return JSONResponse({"error": "held", "detail": "held too long"}, 503)
        self.answered += 1
        return JSONResponse({"access_token": self.current, "token_type": "bearer",
                             "expires_at": None, "expires_in": self.expires_in})

    async def _thing(self, request: Request) -> Response:
        self.api_calls += 1
        if not self.refuse_all and request.headers.get("authorization") == f"Bearer {self.current}":
            return JSONResponse({"token": self.current})
        self.rejected += 1
        if self._reject_target and self.rejected >= self._reject_target:
            self._all_rejected.set()
        return JSONResponse({"error": "invalid_token"}, self.stale_status)


@contextmanager
def serve(double: VaultDouble) -> Iterator[str]:
    """Run the double under uvicorn on a loopback port; yields its base URL."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(double.app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the vault double did not start")
        time.sleep(0.01)
    double.url = f"http://127.0.0.1:{port}"
    try:
        yield double.url
    finally:
        if double.hold is not None:
            double.hold.set()
        server.should_exit = True
        thread.join(10)
        sock.close()
