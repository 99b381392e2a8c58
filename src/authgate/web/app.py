"""The ASGI application: routes from each feature module, errors mapped in one place."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, cast

import anyio
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from authgate.errors import AuthgateError
from authgate.housekeeping import INTERVAL_SECONDS, purge_stale
from authgate.runtime import Runtime
from authgate.vault import engine
from authgate.web import api, callback, connect, ops
from authgate.web.errors import (
    authgate_error_handler,
    http_error_handler,
    unexpected_error_handler,
)
from authgate.web.middleware import AccessLog, SecurityHeaders

STATIC = Path(__file__).with_name("static")
log = logging.getLogger("authgate.web")


def _routes(runtime: Runtime) -> list[BaseRoute]:
    routes: list[BaseRoute] = [*ops.routes, *api.routes, *connect.routes]
    routes += [
        Route("/auth/{provider}/callback", callback.callback),
        Route("/api/auth/oidc/{provider}/callback", callback.callback),
    ]
    for name, conf in runtime.settings.providers.items():
        if conf.callback_path:
            routes.append(Route(conf.callback_path, callback.fixed_provider_callback(name)))
    from authgate.web import extensions

    routes += extensions.routes(runtime)
    routes.append(Mount("/static", app=StaticFiles(directory=str(STATIC)), name="static"))
    return routes


async def _housekeeping(runtime: Runtime) -> None:
    while True:
        try:
            await anyio.to_thread.run_sync(purge_stale, runtime.db, runtime.clock.now())
        except Exception:
            log.exception("housekeeping failed")  # the next pass tries again
        await anyio.sleep(INTERVAL_SECONDS)


def create_app(runtime: Runtime, *, run_engine: bool = True) -> ASGIApp:
    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with anyio.create_task_group() as tg:
            if run_engine:
                tg.start_soon(engine.run_engine, runtime.vault)
                tg.start_soon(_housekeeping, runtime)
            try:
                yield
            finally:
                tg.cancel_scope.cancel()
        await runtime.aclose()

    app = Starlette(
        routes=_routes(runtime),
        middleware=[Middleware(AccessLog),
                    Middleware(SecurityHeaders, hsts=runtime.settings.is_https)],
        exception_handlers={AuthgateError: authgate_error_handler,
                            HTTPException: http_error_handler,
                            Exception: unexpected_error_handler},
        lifespan=lifespan,
    )
    app.state.runtime = runtime
    # X-Forwarded-For/-Proto are believed only from trusted_proxies (outermost, so every
    # route and the access log see the real client).
    proxied = ProxyHeadersMiddleware(cast(Any, app),
                                     trusted_hosts=list(runtime.settings.trusted_proxies))
    return cast(ASGIApp, proxied)
