"""Connections in the console: the vault's table, live, with connect / refresh / disconnect.

Administrators see and act on every connection; other people on their own only, whose owner is
``user:<username>``. ``/console/connections.json`` feeds ``console.js``, which updates the table
in place every few seconds, so refreshes show up while one watches.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlencode

import anyio
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from authgate.errors import Forbidden, InvalidRequest, NotFound
from authgate.flows import FlowRecord
from authgate.vault.connections import ACTIVE, NEEDS_REAUTH, ConnectionView
from authgate.vault.links import OWNER_PATTERN, check_owner
from authgate.vault.service import APPLICATION_OWNER
from authgate.web import connect
from authgate.web.console.access import ConsoleUser, console_page, form_field
from authgate.web.console.render import page
from authgate.web.console.timefmt import absolute, relative
from authgate.web.i18n import negotiate, translate
from authgate.web.request_context import runtime_of

POLL_SECONDS = 3
OWNER_MAX_LENGTH = 200  # as OWNER_PATTERN allows
# What a redirect back here may announce (?notice=); anything else is ignored.
NOTICES = ("connected", "refreshed", "not_yet", "refresh_failed", "needs_reauth",
           "disconnected")
# The flow kind of a connect started from the console: finished like a bot's, then back here.
CONSOLE_CONNECT_FLOW = "console"


def html_pattern(pattern: str) -> str:
    """A Python regex as an HTML ``pattern``: the outer anchors dropped (the browser adds
    them), Python's ``\\A``/``\\Z`` inside written ``^``/``$``, and a class's last ``-``
    escaped, as browsers compile it with JavaScript's ``v`` flag."""
    inner = pattern.removeprefix("\\A").removeprefix("^").removesuffix("\\Z").removesuffix("$")
    return inner.replace("\\A", "^").replace("\\Z", "$").replace("-]", "\\-]")


def _visible(user: ConsoleUser, conn: ConnectionView) -> bool:
    return user.is_admin or conn.owner == user.owner


def _status(conn: ConnectionView, now: datetime) -> str:
    if conn.status == NEEDS_REAUTH:
        return NEEDS_REAUTH
    if conn.refresh_started_at is not None:
        return "refreshing"
    if conn.status == ACTIVE and conn.expires_at is not None and conn.expires_at <= now:
        return "expired"
    return conn.status


def row(conn: ConnectionView, now: datetime, lang: str, display: dict[str, str]) -> dict[str, Any]:
    """One table row as both the template and console.js use it: texts already translated."""
    status = _status(conn, now)
    never = translate(lang, "conn.never")
    return {
        "key": f"{conn.provider}/{conn.owner}",
        "provider": conn.provider,
        "provider_name": display.get(conn.provider, conn.provider),
        "owner": conn.owner,
        "account": conn.account_name or conn.account_id or "—",
        "status": status,
        "status_label": translate(lang, f"status.{status}"),
        "expires": relative(conn.expires_at, now, lang),
        "expires_at": absolute(conn.expires_at),
        "next_refresh": relative(conn.next_refresh_at, now, lang),
        "next_refresh_at": absolute(conn.next_refresh_at),
        "last_refresh": relative(conn.last_refresh_at, now, lang, empty=never),
        "last_refresh_at": absolute(conn.last_refresh_at),
        "last_error": conn.last_error or "",
    }


# Connections shown per page (and polled): a vault may hold 100 000 of them.
PAGE_SIZE = 100


def page_after(request: Request) -> tuple[str, str] | None:
    """``?after=PROVIDER/OWNER``: the page starts after that connection (ignored if malformed:
    the first page)."""
    provider, sep, owner = request.query_params.get("after", "").partition("/")
    return (provider, owner) if sep and provider and owner else None


async def _rows(request: Request, user: ConsoleUser) -> tuple[list[dict[str, Any]], str]:
    """One page of the rows this user may see, and the ``after`` of the next page ("" if none).
    An owner sees only their own: the query asks for owners starting with theirs."""
    runtime = runtime_of(request)
    after = page_after(request)
    prefixes = () if user.is_admin else (user.owner or "\x00",)
    conns = await anyio.to_thread.run_sync(lambda: runtime.vault.store.page(
        limit=PAGE_SIZE, after=after, owner_prefixes=prefixes))
    now = runtime.clock.now()
    lang = negotiate(request)
    display = {name: p.display_name for name, p in runtime.providers.items()}
    rows = [row(c, now, lang, display) for c in conns
            if _visible(user, c) and c.owner != APPLICATION_OWNER]
    last = conns[-1] if len(conns) == PAGE_SIZE else None
    return rows, f"{last.provider}/{last.owner}" if last else ""


async def _render(request: Request, user: ConsoleUser, *, status_code: int = 200,
                  **extra: Any) -> Response:
    runtime = runtime_of(request)
    notice = request.query_params.get("notice", "")
    rows, next_after = await _rows(request, user)
    after = page_after(request)
    return page(request, user, "console/connections.html", {
        "rows": rows,
        "after": f"{after[0]}/{after[1]}" if after else "",
        "next_after": next_after,
        "providers": [(n, p.display_name) for n, p in runtime.vault.providers.items()],
        "notice": notice if notice in NOTICES else "",
        "poll_seconds": POLL_SECONDS,
        # The server's rule (vault.links), for the browser to check before sending.
        "owner_pattern": html_pattern(OWNER_PATTERN.pattern),
        "owner_max": OWNER_MAX_LENGTH,
        **extra,
    }, status_code=status_code)


@console_page()
async def connections_page(request: Request, user: ConsoleUser) -> Response:
    return await _render(request, user)


@console_page()
async def connections_json(request: Request, user: ConsoleUser) -> Response:
    lang = negotiate(request)
    rows, _next = await _rows(request, user)
    now = runtime_of(request).clock.now()
    return JSONResponse({"rows": rows, "updated": translate(
        lang, "conn.updated", time=now.strftime("%H:%M:%S UTC"))})


def _back(notice: str) -> Response:
    return RedirectResponse(f"/console/connections?{urlencode({'notice': notice})}",
                            status_code=303)


async def _own_connection(request: Request, user: ConsoleUser,
                          form: dict[str, str]) -> ConnectionView:
    runtime = runtime_of(request)
    provider, owner = form_field(form, "provider"), form_field(form, "owner")
    conn = await anyio.to_thread.run_sync(runtime.vault.store.get, provider, owner)
    if conn is None:
        raise NotFound(f"no {provider} connection for owner {owner!r}")
    if not _visible(user, conn):
        raise Forbidden("this connection belongs to someone else")
    return conn


@console_page(form=True)
async def start_connect(request: Request, user: ConsoleUser, form: dict[str, str]) -> Response:
    """Straight to the provider: no one-time link needed, the signed-in person is the owner
    (or, for an administrator, the owner typed into the form)."""
    runtime = runtime_of(request)
    provider = runtime.vault.provider(form_field(form, "provider"))
    owner = (form.get("owner", "").strip() if user.is_admin else "") or user.owner
    try:
        check_owner(owner)
    except InvalidRequest:
        # Said next to the field, in the page's language, with what was typed kept.
        return await _render(request, user, status_code=400, owner_value=owner[:1000],
                             owner_error=True, chosen_provider=provider.name)
    return await connect.begin_connect(request, provider, owner,
                                       kind=CONSOLE_CONNECT_FLOW, status_code=303)


async def finish_console_connect(request: Request, provider: str, flow: FlowRecord) -> Response:
    await connect.store_connection(request, provider, flow)  # or raises: an error page
    return _back("connected")


@console_page(form=True)
async def refresh_now(request: Request, user: ConsoleUser, form: dict[str, str]) -> Response:
    runtime = runtime_of(request)
    conn = await _own_connection(request, user, form)
    outcome = await runtime.vault.refresh(conn, on_demand=True)
    # "not_due": the provider's rule forbids a refresh yet (hh.ru: only after expiry); say so
    # rather than pretend.
    return _back({"refreshed": "refreshed", "not_due": "not_yet",
                  "needs_reauth": "needs_reauth"}.get(outcome.kind, "refresh_failed"))


@console_page(form=True)
async def disconnect(request: Request, user: ConsoleUser, form: dict[str, str]) -> Response:
    runtime = runtime_of(request)
    conn = await _own_connection(request, user, form)
    if not await runtime.vault.disconnect(conn.provider, conn.owner):
        raise NotFound("the connection was already removed")
    return _back("disconnected")



def routes() -> list[BaseRoute]:
    return [
        Route("/connections", connections_page),
        Route("/connections.json", connections_json),
        Route("/connections/connect", start_connect, methods=["POST"]),
        Route("/connections/refresh", refresh_now, methods=["POST"]),
        Route("/connections/disconnect", disconnect, methods=["POST"]),
    ]
