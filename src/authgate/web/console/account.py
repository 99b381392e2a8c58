"""My password: a signed-in person with a local password changes it here (the current one, then
the new one twice). A change ends every other session of the person; this one goes on."""

from __future__ import annotations

from typing import Any

import anyio
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from authgate.signin.audit import FAILURE, LOCAL
from authgate.signin.passwords import MAX_LENGTH, MIN_LENGTH, check_password, hash_password
from authgate.web.console.access import ConsoleUser, console_page
from authgate.web.console.render import page
from authgate.web.request_context import runtime_of
from authgate.web.signed_in import audit_client

PATH = "/console/password"
NOTICES = ("password_changed",)
WRONG_CURRENT = "wrong_current_password"  # the sign-in log's reason


def _render(request: Request, user: ConsoleUser, *, status_code: int = 200,
            **extra: Any) -> Response:
    notice = request.query_params.get("notice", "")
    return page(request, user, "console/password.html", {
        "page_key": "password.title", "min_length": MIN_LENGTH, "max_length": MAX_LENGTH,
        "notice": notice if notice in NOTICES else "", "errors": {}, **extra,
    }, status_code=status_code)


@console_page()
async def password_page(request: Request, user: ConsoleUser) -> Response:
    return _render(request, user)


def _problems(current_ok: bool, current: str, new: str, again: str) -> dict[str, str]:
    """Field -> message key, for the fields that are wrong."""
    errors = {}
    if not current_ok:
        errors["current"] = "password.error.current"
    if len(new) < MIN_LENGTH:
        errors["new"] = "password.error.short"
    elif len(new) > MAX_LENGTH:
        errors["new"] = "password.error.long"
    elif new == current:
        errors["new"] = "password.error.same"
    elif new != again:
        errors["again"] = "password.error.mismatch"
    return errors


@console_page(form=True)
async def change_password(request: Request, user: ConsoleUser, form: dict[str, str]) -> Response:
    if not user.has_password:
        return _render(request, user, status_code=400)
    runtime = runtime_of(request)
    users, sessions = runtime.signin.users, runtime.signin.sessions
    current = form.get("current", "")[:MAX_LENGTH]
    new, again = form.get("new", ""), form.get("again", "")

    signin, client = runtime.signin, audit_client(request)

    def check() -> bool:
        # Guessing the current password from a left-open session meets the sign-in limit.
        now = runtime.clock.now()
        signin.limiter.check(username=user.username, ip=client.ip, now=now)
        _user, stored = users.credentials(user.username)
        if check_password(stored, current).ok:
            return True
        signin.log.record(now=now, provider=LOCAL, result=FAILURE, client=client,
                          username=user.username, reason=WRONG_CURRENT)
        return False

    errors = _problems(await anyio.to_thread.run_sync(check), current, new, again)
    if errors:
        return _render(request, user, status_code=400, errors=errors)

    def change() -> None:
        users.set_password_hash(user.username, hash_password(new), runtime.clock.now())
        sessions.end_all_for(user.user_id, keep=user.sid)

    await anyio.to_thread.run_sync(change)
    return RedirectResponse(f"{PATH}?notice=password_changed", status_code=303)


def routes() -> list[BaseRoute]:
    return [Route("/password", password_page), Route("/password", change_password,
                                                     methods=["POST"])]
