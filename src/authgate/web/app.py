"""The ASGI application: every route of the gateway in one list, errors mapped in one place."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path
from typing import Any, cast

import anyio
from sqlalchemy.exc import DBAPIError
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from authgate.access_log import AccessLog
from authgate.errors import AuthgateError
from authgate.housekeeping import INTERVAL_SECONDS, purge_stale
from authgate.runtime import Runtime
from authgate.vault import engine
from authgate.web import api, connect, console, ops, proxy, session_api, signin_pages
from authgate.web.callback import callback, fixed_provider_callback
from authgate.web.errors import (
    authgate_error_handler,
    http_error_handler,
    unexpected_error_handler,
)
from authgate.web.hot_paths import HotPaths
from authgate.web.middleware import VERIFY_PATH, BodyLimit, SecurityHeaders
from authgate.web.throttle import Throttles

STATIC = Path(__file__).with_name("static")
# The offset from the database's clock drifts only as fast as the clocks themselves (NTP slews
# at most 0.5 ms/s): measuring it every 10 s keeps the error within a few milliseconds.
CLOCK_SYNC_SECONDS = 10.0
# Below the API key and token memories' renewal margins (apikeys/vault RENEW_AHEAD: 2 s).
RENEW_EVERY = 1.0
log = logging.getLogger("authgate.web")


def _panel_routes(runtime: Runtime) -> list[BaseRoute]:
    """Routes that panels on the allowed origins call from the browser with a Bearer token
    (never cookies): CORS for exactly those origins."""
    settings = runtime.settings
    cors = Middleware(CORSMiddleware,
                      allow_origins=[settings.public_url, *settings.login.allowed_redirects],
                      allow_methods=["GET", "POST"],
                      allow_headers=["Authorization", "Content-Type"], max_age=600)

    def route(path: str, endpoint: Any, method: str) -> list[Route]:
        # The middleware answers preflights itself; any other OPTIONS gets 405.
        return [Route(path, endpoint, methods=[method], middleware=[cors]),
                Route(path, _not_a_preflight, methods=["OPTIONS"], middleware=[cors])]

    return [
        *route("/auth/me", session_api.me, "GET"),
        *route("/api/auth/me", session_api.me, "GET"),
        *route("/auth/token", session_api.token_exchange, "POST"),
        *route("/logout", signin_pages.logout, "POST"),
    ]


async def _not_a_preflight(request: Request) -> Response:
    raise HTTPException(405)


def _routes(runtime: Runtime) -> list[BaseRoute]:
    fixed_callbacks = [Route(p.callback_path, fixed_provider_callback(p.name))
                       for p in runtime.providers.values() if p.callback_path]
    return [
        *ops.routes,
        *api.routes,
        *proxy.routes,
        *connect.routes,
        Route("/auth/{provider}/callback", callback),
        Route("/api/auth/oidc/{provider}/callback", callback),
        *fixed_callbacks,
        Route("/login", signin_pages.login_page, methods=["GET"]),
        Route("/login", signin_pages.login_submit, methods=["POST"]),
        Route("/logout", signin_pages.logout_page, methods=["GET"]),
        *_panel_routes(runtime),
        Route("/auth/{provider}/login", signin_pages.oidc_start, methods=["GET"]),
        Route("/api/auth/oidc/{provider}/login", signin_pages.oidc_start, methods=["GET"]),
        Route(VERIFY_PATH, session_api.verify, methods=["GET", "HEAD"]),
        Route("/.well-known/jwks.json", session_api.jwks, methods=["GET"]),
        *console.routes(),
        Mount("/static", app=StaticFiles(directory=str(STATIC)), name="static"),
    ]


async def _housekeeping(runtime: Runtime) -> None:
    failing = False  # one line per change, not one per pass
    while True:
        try:
            await anyio.to_thread.run_sync(purge_stale, runtime.db, runtime.clock.now())
        except DBAPIError as exc:
            if not failing:
                log.warning("housekeeping: the database does not answer (%s)",
                            type(exc).__name__)
            failing = True
        except Exception:
            log.exception("housekeeping failed")  # the next pass tries again
        else:
            failing = False
        await anyio.sleep(INTERVAL_SECONDS)


async def _renew_hot_entries(runtime: Runtime) -> None:
    """Check again the API keys and read again the tokens that the token API served from memory,
    before their entries lapse: otherwise, at each lapse, every request of a busy bot then in
    flight takes the full way at once (hundreds of database checks and access-log lines, and the
    tail latency with them). Each entry keeps its bound (apikeys.CACHE_SECONDS, vault's
    TOKEN_CACHE_SECONDS, counted from the check or read itself)."""
    while True:
        await anyio.sleep(RENEW_EVERY)
        due = runtime.apikeys.due_for_renewal()
        if due:
            # The database away: the entries lapse, and the full way answers (stale-if-down).
            with contextlib.suppress(Exception):
                await anyio.to_thread.run_sync(
                    partial(runtime.apikeys.renew, due, now=runtime.clock.now()))
        await runtime.vault.renew_remembered()


async def _clock_sync(runtime: Runtime) -> None:
    """Measure the offset from the database's clock again now and then (PostgreSQL)."""
    while True:
        await anyio.sleep(CLOCK_SYNC_SECONDS)
        with contextlib.suppress(Exception):  # the database away: the last offset holds
            await anyio.to_thread.run_sync(runtime.db_clock.sync)


def create_app(runtime: Runtime, *, run_engine: bool = True) -> ASGIApp:
    # The first signing key is made at start, not on the first sign-in; revocations preloaded.
    runtime.signin.keys.load()
    runtime.signin.revocations.load()
    # From now on every change of a verify verdict writes a new epoch for nginx's cache.
    runtime.signin.epoch.activate()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with anyio.create_task_group() as tg:
            if run_engine:
                poll = runtime.settings.vault.poll_interval.total_seconds()
                tg.start_soon(partial(engine.run_engine, runtime.vault, idle=poll))
                tg.start_soon(partial(runtime.delivery.run, idle=poll / 2))
                tg.start_soon(engine.run_journal, runtime.vault)
                tg.start_soon(_housekeeping, runtime)
                tg.start_soon(runtime.signin.revocations.keep_fresh)
            tg.start_soon(_clock_sync, runtime)
            tg.start_soon(_renew_hot_entries, runtime)
            try:
                yield
            finally:
                tg.cancel_scope.cancel()
        await runtime.aclose()

    app = Starlette(
        routes=_routes(runtime),
        middleware=[Middleware(AccessLog),
                    Middleware(SecurityHeaders, hsts=runtime.settings.is_https),
                    Middleware(BodyLimit, limit=runtime.settings.max_request_body,
                               limits={proxy.PREFIX: runtime.settings.proxy.max_request_body})],
        exception_handlers={AuthgateError: authgate_error_handler,
                            HTTPException: http_error_handler,
                            Exception: unexpected_error_handler},
        lifespan=lifespan,
    )
    app.state.runtime = runtime
    # Starlette's "/path/" -> "/path" redirect is absolute, built from the client's Host header:
    # an address of the client's choosing in our Location. Without it such a path is a 404.
    app.router.redirect_slashes = False
    app.state.secure_cookies = runtime.settings.is_https
    app.state.throttles = Throttles()
    app.state.proxy_limiter = proxy.make_limiter(runtime)
    # X-Forwarded-For/-Proto are believed only from trusted_proxies (outermost, so every
    # route and the access log see the real client).
    # The two most frequent answers, when they come from memory, skip the middleware chain
    # (web/hot_paths.py).
    proxied = ProxyHeadersMiddleware(cast(Any, HotPaths(app, runtime)),
                                     trusted_hosts=list(runtime.settings.trusted_proxies))
    return cast(ASGIApp, proxied)
