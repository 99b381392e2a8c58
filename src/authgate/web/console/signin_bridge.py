"""The console's adapter to ``authgate.signin``: sessions, CSRF, users and the sign-in log.

Everything the console needs from the sign-in gateway goes through these few functions.
"""

from __future__ import annotations

from collections.abc import Mapping

import anyio
from starlette.requests import Request
from starlette.responses import Response

from authgate.errors import Unauthorized
from authgate.runtime import Runtime
from authgate.signin.audit import LOCAL, EventView
from authgate.signin.users import UserStore, UserView
from authgate.signin.wiring import signin_services
from authgate.web import csrf
from authgate.web.console.user import ConsoleUser
from authgate.web.deps import runtime_of

LOCAL_PROVIDER = LOCAL
CSRF_FIELD = csrf.CSRF_FIELD




# -- the request's session ------------------------------------------------------------------
async def current_user(request: Request) -> ConsoleUser | None:
    """The signed-in person, checked against the database (session live, account enabled):
    the console changes things, so a revoked session must stop working at once."""
    runtime = runtime_of(request)
    token = request.cookies.get(runtime.settings.session.cookie_name)
    if not token:
        return None
    try:
        _claims, user, provider = await anyio.to_thread.run_sync(
            signin_services(runtime).sessions.current, token)
    except Unauthorized:
        return None
    return ConsoleUser(username=user.username, role=user.role, name=user.name,
                       email=user.email, provider=None if provider == LOCAL else provider,
                       identities=user.identities)


def csrf_token(request: Request) -> str:
    return csrf.csrf_token(request)


def attach_csrf_cookie(request: Request, response: Response) -> None:
    csrf.attach_csrf_cookie(request, response)


def check_csrf(request: Request, form: Mapping[str, str]) -> None:
    csrf.verify_csrf(request, form)


# -- users ----------------------------------------------------------------------------------
def _users(runtime: Runtime) -> UserStore:
    return signin_services(runtime).users


def list_users(runtime: Runtime) -> list[UserView]:
    return _users(runtime).list_users()


def sign_in_methods(runtime: Runtime, user: UserView, password_label: str) -> str:
    names = [password_label] if user.has_password else []
    for provider, _subject in user.identities:
        conf = runtime.settings.providers.get(provider)
        names.append(conf.display_name or provider if conf else provider)
    return ", ".join(names) or "—"


def set_role(runtime: Runtime, username: str, role: str) -> None:
    _users(runtime).set_role(username, role, runtime.clock.now())


def set_disabled(runtime: Runtime, username: str, disabled: bool) -> None:
    _users(runtime).set_disabled(username, disabled, runtime.clock.now())


# -- the sign-in log ------------------------------------------------------------------------
def signin_events(runtime: Runtime, *, username: str | None, provider: str | None,
                  result: str | None, limit: int) -> list[EventView]:
    return signin_services(runtime).log.recent(limit=limit, username=username,
                                               provider=provider, result=result)
