"""Who sent this request: the session it carries, where it may be sent next, and how the
sign-in log describes its client. Shared by the sign-in pages, the panel API and the console."""

from __future__ import annotations

import anyio
from starlette.requests import Request

from authgate.errors import Unauthorized
from authgate.signin.audit import Client
from authgate.signin.redirects import safe_next
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


def signed_in_claims(request: Request, *, cookie_only: bool = False) -> SessionClaims | None:
    """The session the request carries, from memory (revocations may lag ~1 s)."""
    runtime = runtime_of(request)
    try:
        token = session_cookie(request) if cookie_only else session_token(request)
        return runtime.signin.sessions.verify(token)
    except Unauthorized:
        return None


async def signed_in_user(request: Request, *, cookie_only: bool = False
                         ) -> tuple[SessionClaims, UserView, str | None] | None:
    """The same, checked against the database (session live, account enabled), with the user
    and the provider they signed in with: for pages that show or change things."""
    runtime = runtime_of(request)
    try:
        token = session_cookie(request) if cookie_only else session_token(request)
    except Unauthorized:
        return None
    if not token:
        return None
    try:
        return await anyio.to_thread.run_sync(runtime.signin.sessions.current, token)
    except Unauthorized:
        return None


def next_url(request: Request, value: str | None) -> str | None:
    """``?next=`` if it leads to this site or a configured panel origin, else None."""
    settings = runtime_of(request).settings
    return safe_next(value, public_url=settings.public_url,
                     allowed_origins=settings.login.allowed_redirects)


def audit_client(request: Request) -> Client:
    return Client(ip=client_ip(request), user_agent=request.headers.get("user-agent"))
