"""Who sent this request: the session it carries, where it may be sent next, and how the
sign-in log describes its client. Shared by the sign-in pages, the panel API and the console."""

from __future__ import annotations

import anyio
from starlette.requests import Request

from authgate.errors import Unauthorized
from authgate.signin.audit import Client
from authgate.signin.redirects import origin_of, safe_next
from authgate.signin.sessions import SessionClaims
from authgate.signin.users import UserView
from authgate.web.request_context import bearer, client_ip, runtime_of


def session_cookie(request: Request) -> str | None:
    """The session cookie's value; more than one session cookie is refused (``Unauthorized``):
    a copy planted from a sibling domain must not decide which session counts here, nor ride
    along with a real one to a protected app."""
    name = runtime_of(request).settings.session.cookie_name
    found = [value.strip() for header in request.headers.getlist("cookie")
             for key, _eq, value in (part.partition("=") for part in header.split(";"))
             if key.strip() == name]
    if len(found) > 1:
        raise Unauthorized("More than one session cookie was sent. Please sign in again.",
                           error="session_ambiguous")
    return found[0] if found else None


def session_token(request: Request) -> str | None:
    """The session JWT: a Bearer header (panels on other origins) or the session cookie."""
    return bearer(request) or session_cookie(request)


def calling_panel(request: Request) -> str | None:
    """The configured panel origin the request comes from (its ``Origin`` header), or None."""
    origin = request.headers.get("origin")
    found = origin_of(origin) if origin else None
    panels = {origin_of(o) for o in runtime_of(request).settings.login.allowed_redirects}
    return found if found is not None and found in panels else None


def presented_session(request: Request, *, cookie_only: bool = False
                      ) -> tuple[str | None, str | None]:
    """The session JWT and the audience it may have besides the gateway's: a panel's own
    token (from ``/auth/token``) counts in a Bearer header sent from that panel's origin."""
    token = None if cookie_only else bearer(request)
    if token:
        return token, calling_panel(request)
    return session_cookie(request), None


def signed_in_claims(request: Request, *, cookie_only: bool = False) -> SessionClaims | None:
    """The session the request carries, from memory (revocations may lag ~1 s)."""
    runtime = runtime_of(request)
    try:
        token, audience = presented_session(request, cookie_only=cookie_only)
        return runtime.signin.sessions.verify(token, audience=audience)
    except Unauthorized:
        return None


async def signed_in_user(request: Request, *, cookie_only: bool = False
                         ) -> tuple[SessionClaims, UserView, str | None] | None:
    """The same, checked against the database (session live, account enabled), with the user
    and the provider they signed in with: for pages that show or change things."""
    runtime = runtime_of(request)
    try:
        token, audience = presented_session(request, cookie_only=cookie_only)
    except Unauthorized:
        return None
    if not token:
        return None
    try:
        return await anyio.to_thread.run_sync(
            lambda: runtime.signin.sessions.current(token, audience=audience))
    except Unauthorized:
        return None


def next_url(request: Request, value: str | None) -> str | None:
    """``?next=`` if it leads to this site or a configured panel origin, else None."""
    settings = runtime_of(request).settings
    return safe_next(value, public_url=settings.public_url,
                     allowed_origins=settings.login.allowed_redirects)


def audit_client(request: Request) -> Client:
    return Client(ip=client_ip(request), user_agent=request.headers.get("user-agent"))
