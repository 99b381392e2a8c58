"""One callback endpoint for every browser flow: the stored flow says whether it was a sign-in,
a bot's connect or a console connect, and the matching module completes it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import anyio
from starlette.requests import Request
from starlette.responses import Response

from authgate.errors import AuthgateError, NotFound
from authgate.web import connect, signin_pages
from authgate.web.console import connections as console_connections
from authgate.web.flow_binding import FLOW_COOKIE
from authgate.web.request_context import runtime_of


async def callback(request: Request) -> Response:
    provider = request.path_params.get("provider") or request.scope.get("authgate.provider", "")
    runtime = runtime_of(request)
    if provider not in runtime.providers:
        raise NotFound(f"no provider named {provider!r} is configured")
    now = runtime.clock.now()
    try:
        flow = await anyio.to_thread.run_sync(lambda: runtime.flows.consume(
            state=request.query_params.get("state"), binding=request.cookies.get(FLOW_COOKIE),
            provider=provider, now=now))
    except AuthgateError as exc:
        # Missing, forged, expired, replayed or another browser's state: no flow to finish.
        await signin_pages.log_unmatched_callback(request, provider, exc)
        raise
    if flow.kind == signin_pages.LOGIN_FLOW:
        return await signin_pages.finish_login(request, provider, flow)
    if flow.kind == connect.CONNECT_FLOW:
        return await connect.finish_connect(request, provider, flow)
    if flow.kind == console_connections.CONSOLE_CONNECT_FLOW:
        return await console_connections.finish_console_connect(request, provider, flow)
    raise NotFound(f"flows of kind {flow.kind!r} are not enabled")


def fixed_provider_callback(provider: str) -> Callable[[Request], Awaitable[Response]]:
    """The same endpoint at a provider's ``callback_path`` (an already-registered URI)."""

    async def endpoint(request: Request) -> Response:
        request.scope["authgate.provider"] = provider
        return await callback(request)

    return endpoint
