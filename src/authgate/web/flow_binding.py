"""Binds a provider round trip (sign-in or connect) to the browser that started it.

The ``authgate_flow`` cookie holds a random value that the stored flow must match at the callback,
so a state leaked to another browser is worthless there.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from authgate.secret_values import new_secret
from authgate.web.cookies import set_cookie

FLOW_COOKIE = "authgate_flow"
FLOW_COOKIE_SECONDS = 600


def flow_binding(request: Request) -> str:
    """The browser's flow-binding value: reused while its cookie lives, so parallel flows work."""
    current = request.cookies.get(FLOW_COOKIE, "")
    return current if 32 <= len(current) <= 64 else new_secret()


def set_flow_cookie(request: Request, response: Response, binding: str) -> None:
    set_cookie(request, response, FLOW_COOKIE, binding, max_age=FLOW_COOKIE_SECONDS)
