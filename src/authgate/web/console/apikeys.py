"""API keys for bots, for administrators: create (the key is shown once, in the answer to the
POST, never again; optionally scoped to an owner prefix and to read-only), list, revoke."""

from __future__ import annotations

from typing import Any

import anyio
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from authgate.apikeys import ApiKeyView, check_owner_prefix
from authgate.errors import InvalidRequest
from authgate.web.console.access import ConsoleUser, console_page
from authgate.web.console.render import page
from authgate.web.console.timefmt import absolute, relative
from authgate.web.i18n import negotiate, translate
from authgate.web.request_context import runtime_of


async def _keys(request: Request) -> list[dict[str, Any]]:
    runtime = runtime_of(request)
    keys: list[ApiKeyView] = await anyio.to_thread.run_sync(runtime.apikeys.list_keys)
    now, lang = runtime.clock.now(), negotiate(request)
    return [{"id": k.id, "name": k.name, "prefix": k.prefix,
             "created_at": relative(k.created_at, now, lang),
             "created_at_iso": absolute(k.created_at),
             "last_used": relative(k.last_used_at, now, lang,
                                   empty=translate(lang, "conn.never")),
             "revoked": k.revoked_at is not None, "scope": _scope(lang, k)}
            for k in reversed(keys)]


def _scope(lang: str, key: ApiKeyView) -> str:
    owners = (translate(lang, "keys.scope_all") if key.owner_prefix is None
              else translate(lang, "keys.scope_prefix", prefix=key.owner_prefix))
    return owners + (", " + translate(lang, "keys.scope_read_only") if key.read_only else "")


async def _render(request: Request, user: ConsoleUser, **extra: Any) -> Response:
    revoked = request.query_params.get("notice") == "key_revoked"
    return page(request, user, "console/apikeys.html",
                {"keys": await _keys(request), "notice": "key_revoked" if revoked else "",
                 **extra})


@console_page(admin=True)
async def apikeys_page(request: Request, user: ConsoleUser) -> Response:
    return await _render(request, user)


@console_page(admin=True, form=True)
async def create_key(request: Request, user: ConsoleUser, form: dict[str, str]) -> Response:
    runtime = runtime_of(request)
    name = form.get("name", "").strip()[:128]
    prefix = form.get("owner_prefix", "").strip()
    read_only = form.get("read_only") == "1"
    if not name:
        return await _render(request, user, name_error=True, prefix_value=prefix[:200],
                             read_only_value=read_only)
    try:
        owner_prefix = check_owner_prefix(prefix)
    except InvalidRequest:
        return await _render(request, user, prefix_error=True, name_value=name,
                             prefix_value=prefix[:200], read_only_value=read_only)
    now = runtime.clock.now()
    key, view = await anyio.to_thread.run_sync(lambda: runtime.apikeys.create(
        name, now=now, owner_prefix=owner_prefix, read_only=read_only))
    return await _render(request, user, created_key=key, created_name=view.name)


@console_page(admin=True, form=True)
async def revoke_key(request: Request, user: ConsoleUser, form: dict[str, str]) -> Response:
    runtime = runtime_of(request)
    key_id = int(request.path_params["key_id"])
    now = runtime.clock.now()
    await anyio.to_thread.run_sync(lambda: runtime.apikeys.revoke(key_id, now=now))
    return RedirectResponse("/console/apikeys?notice=key_revoked", status_code=303)


def routes() -> list[BaseRoute]:
    return [
        Route("/apikeys", apikeys_page),
        Route("/apikeys", create_key, methods=["POST"]),
        Route("/apikeys/{key_id:int}/revoke", revoke_key, methods=["POST"]),
    ]
