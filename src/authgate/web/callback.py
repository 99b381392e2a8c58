"""One callback endpoint for every browser flow; the stored flow says whether it was a sign-in
or a connect, and the matching finisher completes it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import anyio
from starlette.requests import Request
from starlette.responses import Response

from authgate.errors import AuthgateError, NotFound
from authgate.flows import FlowRecord
from authgate.secrets_util import new_secret
from authgate.web.deps import runtime_of

FLOW_COOKIE = "authgate_flow"
Finisher = Callable[[Request, str, FlowRecord], Awaitable[Response]]
Unmatched = Callable[[Request, str, AuthgateError], Awaitable[None]]
_FINISHERS: dict[str, Finisher] = {}
_UNMATCHED: list[Unmatched] = []


def register_finisher(kind: str, finisher: Finisher) -> None:
    _FINISHERS[kind] = finisher


def on_unmatched_state(hook: Unmatched) -> None:
    """``hook(request, provider, error)`` for a callback whose state matches no flow of this
    browser (missing, forged, expired, replayed, another browser's): no finisher ever sees it."""
    _UNMATCHED.append(hook)


def flow_binding(request: Request) -> str:
    """The browser's flow-binding value: reused while its cookie lives, so parallel flows work."""
    current = request.cookies.get(FLOW_COOKIE, "")
    return current if 32 <= len(current) <= 64 else new_secret()


def set_flow_cookie(request: Request, response: Response, binding: str) -> None:
    runtime = runtime_of(request)
    response.set_cookie(FLOW_COOKIE, binding, max_age=600, httponly=True, samesite="lax",
                        secure=runtime.settings.is_https, path="/")


async def callback(request: Request) -> Response:
    provider = request.path_params.get("provider") or request.scope.get("authgate.provider", "")
    runtime = runtime_of(request)
    if provider not in runtime.settings.providers:
        raise NotFound(f"no provider named {provider!r} is configured")
    now = runtime.clock.now()
    try:
        flow = await anyio.to_thread.run_sync(lambda: runtime.flows.consume(
            state=request.query_params.get("state"), binding=request.cookies.get(FLOW_COOKIE),
            provider=provider, now=now))
    except AuthgateError as exc:
        for hook in _UNMATCHED:
            await hook(request, provider, exc)
        raise
    finisher = _FINISHERS.get(flow.kind)
    if finisher is None:
        raise NotFound(f"flows of kind {flow.kind!r} are not enabled")
    return await finisher(request, provider, flow)


def fixed_provider_callback(provider: str) -> Callable[[Request], Awaitable[Response]]:
    """The same endpoint at a provider's ``callback_path`` (an already-registered URI)."""

    async def endpoint(request: Request) -> Response:
        request.scope["authgate.provider"] = provider
        return await callback(request)

    return endpoint
