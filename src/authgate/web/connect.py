"""Connecting an API account: the end user opens a bot's one-time link (or presses "connect" in
the console), signs in at the provider, and comes back to the callback, which stores the
connection."""

from __future__ import annotations

from urllib.parse import quote, unquote

import anyio
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from authgate.errors import FlowError
from authgate.flows import FlowRecord
from authgate.protocol.rfc7636_pkce import new_pkce_pair
from authgate.providers.base import Account, Provider
from authgate.telegram.message import chat_id_of
from authgate.web.cookies import delete_cookie, set_cookie
from authgate.web.csrf import attach_csrf_cookie, csrf_token, verify_csrf
from authgate.web.flow_binding import flow_binding, set_flow_cookie
from authgate.web.i18n import asked_language, negotiate, translate
from authgate.web.pages import render
from authgate.web.request_context import runtime_of

CONNECT_FLOW = "connect"
DONE_COOKIE = "authgate_connected"


async def begin_connect(request: Request, provider: Provider, owner: str, *, kind: str,
                        status_code: int) -> Response:
    """To the provider's authorize page, with state bound to this browser and PKCE."""
    runtime = runtime_of(request)
    pkce = new_pkce_pair()
    binding = flow_binding(request)
    now = runtime.clock.now()
    state = await anyio.to_thread.run_sync(lambda: runtime.flows.start(
        kind=kind, provider=provider.name, redirect_uri=provider.redirect_uri,
        binding=binding, now=now, code_verifier=pkce.verifier, owner=owner))
    response = RedirectResponse(provider.authorize_url(state=state, code_challenge=pkce.challenge),
                                status_code=status_code)
    set_flow_cookie(request, response, binding)
    return response


async def confirm_connect(request: Request) -> Response:
    """A bot's link names who asked and for whom, and asks before anything happens: a GET
    (the person opening it, or a chat's link-preview bot) never uses the link up."""
    runtime = runtime_of(request)
    provider = runtime.vault.provider(request.path_params["provider"])
    token = request.query_params.get("session")
    now = runtime.clock.now()
    link = await anyio.to_thread.run_sync(lambda: runtime.links.peek(token, provider.name,
                                                                     now=now))
    lang = negotiate(request)
    response = render(request, "connect_confirm.html", {
        "provider": provider.display_name, "provider_name": provider.name,
        "bot": link.requested_by or translate(lang, "connect.confirm.operator"),
        "owner": link.owner, "session": token, "csrf": csrf_token(request)})
    attach_csrf_cookie(request, response)
    return response


async def start_connect(request: Request) -> Response:
    """The confirmation's button: the link is used now, and the browser goes to the provider."""
    runtime = runtime_of(request)
    provider = runtime.vault.provider(request.path_params["provider"])
    form = await request.form()
    verify_csrf(request, form)
    token = form.get("session")
    now = runtime.clock.now()
    link = await anyio.to_thread.run_sync(lambda: runtime.links.redeem(
        token if isinstance(token, str) else None, provider.name, now=now))
    return await begin_connect(request, provider, link.owner, kind=CONNECT_FLOW, status_code=303)


async def store_connection(request: Request, provider_name: str,
                           flow: FlowRecord) -> tuple[Provider, Account]:
    """Trade the callback's code for tokens, look up the account, and keep both in the vault."""
    runtime = runtime_of(request)
    provider = runtime.vault.provider(provider_name)
    params = request.query_params
    if params.get("error"):
        reason = params.get("error_description") or params["error"]
        raise FlowError(f"{provider.display_name} did not grant access: {reason[:200]}",
                        error=params["error"][:64])
    code = params.get("code")
    if not code or flow.owner is None:
        raise FlowError("The provider sent no authorization code. Please start again.",
                        error="missing_code")
    extras = provider.connection_extras(params)
    tokens = await provider.exchange_code(runtime.http, code, flow.code_verifier, params)
    account = await provider.fetch_account(runtime.http, tokens.access_token)
    await runtime.vault.store_new_connection(provider, flow.owner, tokens, account, extras)
    return provider, account


async def finish_connect(request: Request, provider_name: str, flow: FlowRecord) -> Response:
    """Stored: on to a clean address (no ``?code=&state=`` left in the address bar or the
    history); the account's name goes along in a cookie that only that page reads, once."""
    provider, account = await store_connection(request, provider_name, flow)
    await _remember_chat_language(request, flow.owner)
    response = RedirectResponse(f"/connect/{provider.name}/done", status_code=303)
    set_cookie(request, response, DONE_COOKIE, quote(account.name or account.id or "")[:600],
               max_age=60)
    return response


async def _remember_chat_language(request: Request, owner: str | None) -> None:
    """A Telegram owner's messages come in the language of the pages they connected through
    (when the browser named one of ours; else ``telegram.default_language``)."""
    chat_id = chat_id_of(owner or "")
    language = asked_language(request)
    if chat_id is not None and language is not None:
        await anyio.to_thread.run_sync(runtime_of(request).telegram_chats.remember_language,
                                       chat_id, language)


async def connected(request: Request) -> Response:
    provider = runtime_of(request).vault.provider(request.path_params["provider"])
    lang = negotiate(request)
    account = unquote(request.cookies.get(DONE_COOKIE, ""))
    response = render(request, "message.html", {
        "title": translate(lang, "connect.ok.title"),
        "body": translate(lang, "connect.ok.body", provider=provider.display_name,
                          account=account) if account
        else translate(lang, "connect.ok.body_again", provider=provider.display_name),
        "tone": "ok"})
    delete_cookie(request, response, DONE_COOKIE)
    return response


routes = [Route("/connect/{provider}", confirm_connect, methods=["GET"]),
          Route("/connect/{provider}", start_connect, methods=["POST"]),
          Route("/connect/{provider}/done", connected)]
