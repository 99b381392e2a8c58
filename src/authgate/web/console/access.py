"""Who is asking, and may they: every console endpoint is wrapped by ``console_page``, which
finds the signed-in person (checked against the database), enforces the administrator role and
checks the CSRF token of forms."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any, Concatenate
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from authgate.errors import Forbidden, InvalidRequest
from authgate.signin.audit import LOCAL
from authgate.web.console.user import ConsoleUser
from authgate.web.csrf import verify_csrf
from authgate.web.i18n import negotiate, translate
from authgate.web.signed_in import signed_in_user


def form_field(form: dict[str, str], name: str) -> str:
    value = form.get(name, "").strip()
    if not value:
        raise InvalidRequest(f"the form field {name!r} is missing", error="missing_field")
    return value


Page = Callable[[Request], Awaitable[Response]]


async def current_user(request: Request) -> ConsoleUser | None:
    """The person signed in with the session cookie, checked against the database (session
    live, account enabled): the console changes things, so a revoked session stops at once."""
    found = await signed_in_user(request, cookie_only=True)
    if found is None:
        return None
    claims, user, provider = found
    return ConsoleUser(username=user.username, role=user.role, name=user.name,
                       email=user.email, provider=None if provider == LOCAL else provider,
                       identities=user.identities, user_id=user.id, sid=claims.sid,
                       has_password=user.has_password)


def _to_login(request: Request) -> Response:
    if request.url.path.endswith(".json"):
        return JSONResponse({"error": "unauthorized", "detail": "sign in first"},
                            status_code=401)
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?{urlencode({'next': target})}", status_code=303)


async def _checked_form(request: Request) -> dict[str, str]:
    form = await request.form()
    fields = {k: v for k, v in form.items() if isinstance(v, str)}
    verify_csrf(request, fields)
    return fields


def console_page(*, admin: bool = False, form: bool = False) -> Callable[[Callable[..., Any]],
                                                                           Page]:
    """Wrap a console endpoint: sign-in required (else to /login and back), administrators only
    when ``admin``, and for ``form`` endpoints a checked CSRF token and the form's fields."""

    def wrap(endpoint: Callable[Concatenate[Request, ConsoleUser, ...], Awaitable[Response]]
             ) -> Page:
        @functools.wraps(endpoint)
        async def page(request: Request) -> Response:
            user = await current_user(request)
            if user is None:
                return _to_login(request)
            if admin and not user.is_admin:
                raise Forbidden(translate(negotiate(request), "console.forbidden"),
                                error="admin_only")
            if form:
                return await endpoint(request, user, await _checked_form(request))
            return await endpoint(request, user)

        return page

    return wrap


__all__ = ["ConsoleUser", "console_page", "current_user", "form_field"]
