"""The one cookie policy of the gateway: HttpOnly, SameSite=Lax, path ``/``, Secure under https.

Every cookie authgate sets (session, its digest, flow binding, CSRF, language, account just
connected) goes through here, so none of them can forget a flag, and a test finds them all here
(the nginx site strips every one but the session's from what protected apps receive).
Whether cookies are Secure is the app's ``state.secure_cookies`` (the gateway sets it from
``public_url``).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response


def set_cookie(request: Request, response: Response, name: str, value: str, *,
               max_age: int | None = None) -> None:
    response.set_cookie(name, value, max_age=max_age, path="/", httponly=True, samesite="lax",
                        secure=_secure(request))


def host_cookie_name(request: Request, name: str) -> str:
    """``__Host-name`` under https: browsers then accept the cookie only from this very host,
    Secure, with path / and no Domain, so a sibling sub-domain or plain HTTP cannot plant it."""
    return f"__Host-{name}" if _secure(request) else name


def delete_cookie(request: Request, response: Response, name: str) -> None:
    response.delete_cookie(name, path="/", httponly=True, samesite="lax",
                           secure=_secure(request))


def _secure(request: Request) -> bool:
    return bool(request.app.state.secure_cookies)
