"""People, for administrators: list and search, change a role, disable or enable an account.

Disabling ends the person's sessions at once (the user store revokes them in the same
transaction). An administrator cannot disable or demote themselves: the console would lock its
last administrator out.
"""

from __future__ import annotations

import re
from typing import Any

import anyio
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from authgate.errors import InvalidRequest
from authgate.signin.users import UserView
from authgate.web.console.access import ConsoleUser, console_page, form_field
from authgate.web.console.render import page
from authgate.web.i18n import negotiate, translate
from authgate.web.request_context import runtime_of

ROLE_PATTERN = r"^[a-z][a-z0-9_-]{0,63}$"
NOTICES = ("role_changed", "disabled", "enabled")


def _matches(u: Any, q: str) -> bool:
    return not q or any(q in (value or "").lower() for value in (u.username, u.name, u.email))


@console_page(admin=True)
async def users_page(request: Request, user: ConsoleUser) -> Response:
    runtime = runtime_of(request)
    q = request.query_params.get("q", "").strip()[:100]
    everyone = await anyio.to_thread.run_sync(runtime.signin.users.list_users)
    shown = [u for u in everyone if _matches(u, q.lower())]
    mapped = {role for p in runtime.settings.providers.values() for role in p.roles_map.values()}
    roles = sorted({"admin", runtime.settings.login.default_role, *mapped,
                    *(u.role for u in everyone)})
    notice = request.query_params.get("notice", "")
    password = translate(negotiate(request), "provider.password")
    return page(request, user, "console/users.html", {
        "q": q, "roles": roles, "notice": notice if notice in NOTICES else "",
        "users": [{"username": u.username, "name": u.name, "email": u.email, "role": u.role,
                   "disabled": u.disabled, "methods": _sign_in_methods(request, u, password)}
                  for u in shown],
    })


def _sign_in_methods(request: Request, user: UserView, password_label: str) -> str:
    providers = runtime_of(request).providers
    names = [password_label] if user.has_password else []
    for provider, _subject in user.identities:
        names.append(providers[provider].display_name if provider in providers else provider)
    return ", ".join(names) or "—"


def _not_self(user: ConsoleUser, username: str) -> None:
    if username == user.username:
        raise InvalidRequest("You cannot change your own account here: ask another "
                             "administrator.", error="own_account")


@console_page(admin=True, form=True)
async def set_role(request: Request, user: ConsoleUser, form: dict[str, str]) -> Response:
    runtime = runtime_of(request)
    username, role = form_field(form, "username"), form_field(form, "role")
    if not re.match(ROLE_PATTERN, role):
        raise InvalidRequest("a role is a lower-case word", error="invalid_role")
    _not_self(user, username)
    await anyio.to_thread.run_sync(runtime.signin.users.set_role, username, role,
                                   runtime.clock.now())
    return RedirectResponse("/console/users?notice=role_changed", status_code=303)


def _set_disabled(disabled: bool) -> Any:
    @console_page(admin=True, form=True)
    async def endpoint(request: Request, user: ConsoleUser, form: dict[str, str]) -> Response:
        runtime = runtime_of(request)
        username = form_field(form, "username")
        _not_self(user, username)
        await anyio.to_thread.run_sync(runtime.signin.users.set_disabled, username, disabled,
                                       runtime.clock.now())
        notice = "disabled" if disabled else "enabled"
        return RedirectResponse(f"/console/users?notice={notice}", status_code=303)

    return endpoint


def routes() -> list[BaseRoute]:
    return [
        Route("/users", users_page),
        Route("/users/role", set_role, methods=["POST"]),
        Route("/users/disable", _set_disabled(True), methods=["POST"]),
        Route("/users/enable", _set_disabled(False), methods=["POST"]),
    ]
