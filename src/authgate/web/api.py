"""The bots' API (``/api/v1``): connect links, connections and fresh tokens, by API key.

A key scoped to an owner prefix sees only those owners: the list is filtered, and any other
owner answers 404 exactly like one without a connection. A read-only key gets 403
``read_only_key`` on the routes that change something."""

from __future__ import annotations

import base64
import json
from datetime import datetime
from typing import Any

import anyio
from sqlalchemy.exc import DBAPIError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from authgate.apikeys import STALE_IF_DATABASE_DOWN, ApiKeyView
from authgate.errors import Forbidden, InvalidRequest, NotFound
from authgate.metrics import TOKENS_SERVED
from authgate.secret_values import digest
from authgate.singleflight import SingleFlight
from authgate.timefmt import iso
from authgate.vault.connections import ConnectionView
from authgate.vault.links import check_owner, connect_url
from authgate.vault.service import IssuedToken
from authgate.web.request_context import bearer, json_body, runtime_of

PAGE_DEFAULT, PAGE_MAX = 100, 1000

# Concurrent requests with one key share one database check when its cache entry has lapsed.
_key_checks: SingleFlight[str, ApiKeyView] = SingleFlight()


async def authenticate(request: Request) -> ApiKeyView:
    runtime = runtime_of(request)
    key = bearer(request)
    view = runtime.apikeys.cached(key)
    if view is None:
        now = runtime.clock.now()
        try:
            view = await _key_checks.run(digest(key or ""), lambda: anyio.to_thread.run_sync(
                lambda: runtime.apikeys.authenticate(key, now=now)))
        except DBAPIError:
            view = runtime.apikeys.cached(key, stale=STALE_IF_DATABASE_DOWN)
            if view is None:
                raise
    return view


def _iso(value: datetime | None) -> str | None:
    return None if value is None else iso(value)


def connection_json(conn: ConnectionView) -> dict[str, Any]:
    return {"provider": conn.provider, "owner": conn.owner, "account": conn.account_name,
            "account_id": conn.account_id, "status": conn.status,
            "expires_at": _iso(conn.expires_at), "next_refresh_at": _iso(conn.next_refresh_at),
            "last_refresh_at": _iso(conn.last_refresh_at), "last_error": conn.last_error}


async def create_connect_session(request: Request) -> Response:
    key = await authenticate(request)
    key.require_write()
    runtime = runtime_of(request)
    body = await json_body(request)
    provider, owner = body.get("provider"), body.get("owner")
    if not isinstance(provider, str) or not isinstance(owner, str):
        raise InvalidRequest('the body needs "provider" and "owner" strings')
    runtime.vault.provider(provider)
    check_owner(owner)
    if not key.may_see(owner):
        raise Forbidden(f"this API key is limited to owners starting with {key.owner_prefix!r}",
                        error="owner_out_of_scope")
    now = runtime.clock.now()
    link = await anyio.to_thread.run_sync(lambda: runtime.links.create(
        provider, owner, now=now, lifetime=runtime.settings.vault.connect_link_lifetime,
        requested_by=key.name))
    url = connect_url(runtime.settings.public_url, link)
    return JSONResponse({"url": url, "expires_at": iso(link.expires_at)}, status_code=201)


async def list_connections(request: Request) -> Response:
    """One page, in (provider, owner) order: ``{"items": [...], "next_cursor": ...}``; the
    cursor is opaque to bots (it names the last row of the page)."""
    key = await authenticate(request)
    runtime = runtime_of(request)
    params = request.query_params
    limit = _page_limit(params.get("limit"))
    prefixes = tuple(p for p in (key.owner_prefix, params.get("owner_prefix")) if p)
    rows = await anyio.to_thread.run_sync(lambda: runtime.vault.store.page(
        limit=limit + 1, after=_cursor_key(params.get("cursor")),
        provider=params.get("provider") or None, status=params.get("status") or None,
        owner_prefixes=prefixes))
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = _cursor_of(rows[-1]) if more else None
    return JSONResponse({"items": [connection_json(c) for c in rows],
                         "next_cursor": next_cursor})


def _page_limit(value: str | None) -> int:
    if value is None:
        return PAGE_DEFAULT
    if not value.isdigit() or not 1 <= int(value) <= PAGE_MAX:
        raise InvalidRequest(f"limit must be a whole number from 1 to {PAGE_MAX}",
                             error="invalid_limit")
    return int(value)


def _cursor_of(conn: ConnectionView) -> str:
    raw = json.dumps([conn.provider, conn.owner], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _cursor_key(cursor: str | None) -> tuple[str, str] | None:
    if not cursor:
        return None
    try:
        key = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except ValueError:
        key = None
    if not (isinstance(key, list) and len(key) == 2 and all(isinstance(k, str) for k in key)):
        raise InvalidRequest("cursor is not one this API gave out", error="invalid_cursor")
    return key[0], key[1]


async def get_token(request: Request) -> Response:
    key = await authenticate(request)
    runtime = runtime_of(request)
    provider, owner = request.path_params["provider"], request.path_params["owner"]
    runtime.vault.provider(provider)  # first, as vault.token: the same 404 as an absent one
    key.require_owner(provider, owner)
    issued = await runtime.vault.token(provider, owner)
    TOKENS_SERVED.labels(provider).inc()
    return JSONResponse(token_json(issued, runtime.clock.now()))


def token_json(issued: IssuedToken, now: datetime) -> dict[str, Any]:
    # "expires_in" last: the hot path writes the rest once per token (hot_paths.TokenBodies).
    return {"access_token": issued.access_token, "token_type": issued.token_type,
            "expires_at": _iso(issued.expires_at), "expires_in": expires_in(issued, now)}


def expires_in(issued: IssuedToken, now: datetime) -> int | None:
    """Whole seconds the token stays valid (None: no stated expiry)."""
    if issued.expires_at is None:
        return None
    return max(0, int((issued.expires_at - now).total_seconds()))


async def delete_connection(request: Request) -> Response:
    key = await authenticate(request)
    key.require_write()
    runtime = runtime_of(request)
    provider, owner = request.path_params["provider"], request.path_params["owner"]
    key.require_owner(provider, owner)
    if not await runtime.vault.disconnect(provider, owner):
        raise NotFound(f"no {provider} connection for owner {owner!r}")
    return Response(status_code=204)


routes = [
    Route("/api/v1/connect-sessions", create_connect_session, methods=["POST"]),
    Route("/api/v1/connections", list_connections),
    Route("/api/v1/connections/{provider}/{owner}/token", get_token),
    Route("/api/v1/connections/{provider}/{owner}", delete_connection, methods=["DELETE"]),
]
