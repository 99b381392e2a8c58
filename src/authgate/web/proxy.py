"""``ANY /api/v1/proxy/{provider}/{owner}/{path}``: a bot calls the provider's API through
authgate, which adds the owner's token and the provider's required headers (hh.ru:
``HH-User-Agent``) and never lets the token out.

* The path stays under the provider's ``api_base`` (``proxy_rules.check_sub_path``) and, when
  the provider lists ``proxy_paths``, under one of them.
* Bodies stream both ways. The request body is kept as it goes (it is at most
  ``proxy.max_request_body``), so that a retry can send it again.
* An answer the provider gives to a stale token (``Provider.stale_token_statuses``; hh.ru: 401
  and 403) makes the vault look for a fresh one by the provider's rules (hh.ru: only once the
  token has expired) and the call is retried once with it; with no fresher token the answer
  goes back as it came.
* A 429/503 with a short ``Retry-After`` is waited out and retried once.
* No redirect is followed; one that stays under ``api_base`` is passed back rewritten to the
  proxy's own address, any other is refused (502 ``proxy_redirect_refused``).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

import anyio
import httpx
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from authgate.errors import Forbidden, InvalidRequest, NotFound, ProviderError
from authgate.metrics import PROXIED
from authgate.providers.base import Provider
from authgate.runtime import Runtime
from authgate.vault.links import check_owner
from authgate.vault.service import IssuedToken
from authgate.web import proxy_rules as rules
from authgate.web.api import authenticate
from authgate.web.middleware import BODY_TOO_LARGE
from authgate.web.request_context import runtime_of
from authgate.web.throttle import Throttle

PREFIX = "/api/v1/proxy/"
READ_METHODS = frozenset({"GET", "HEAD"})
METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
log = logging.getLogger("authgate.proxy")


def make_limiter(runtime: Runtime) -> Throttle:
    proxy = runtime.settings.proxy
    return Throttle(burst=proxy.burst, per=1.0 / proxy.rate, what="proxied requests",
                    whose="with this API key")


class ResponseTooLarge(Exception):
    """Raised into the server once a streamed answer passes the cap: the connection is cut,
    so the bot sees a broken answer, never a short one that looks whole."""


class _ReplayableBody:
    """The client's request body: read once, as the first upstream request sends it, and kept,
    so that a retry sends the same bytes (the kept part first, then whatever is still unread)."""

    def __init__(self, receive: Receive) -> None:
        self._receive = receive
        self._chunks: list[bytes] = []
        self._done = False

    async def stream(self) -> AsyncIterator[bytes]:
        for chunk in list(self._chunks):
            yield chunk
        while not self._done:
            message = await self._receive()
            if message["type"] == "http.disconnect":
                raise ClientDisconnect  # the client went away: nothing to send it to
            body = message.get("body", b"")
            if not message.get("more_body", False):
                self._done = True
            if body:
                self._chunks.append(body)
                yield body


class _Relayed(StreamingResponse):
    """The provider's answer streamed back; the upstream response is closed however the
    sending ends (done, cut off at the size cap, or the client gone)."""

    def __init__(self, upstream: httpx.Response, headers: list[tuple[str, str]],
                 limit: int) -> None:
        self._upstream = upstream
        self._limit = limit
        super().__init__(self._body(), status_code=upstream.status_code)
        self.raw_headers = [(k.lower().encode("latin-1"), v.encode("latin-1"))
                            for k, v in headers]

    async def _body(self) -> AsyncIterator[bytes]:
        sent = 0
        async for chunk in self._upstream.aiter_raw():
            sent += len(chunk)
            if sent > self._limit:
                # The status line is gone already: all that is left is to cut the answer short.
                log.warning("proxy: response over %d bytes cut off url_path=%s", self._limit,
                            self._upstream.request.url.path)
                raise ResponseTooLarge(f"over {self._limit} bytes")
            yield chunk

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        except ResponseTooLarge:
            # Logged already. The answer is left unfinished, without an exception (which the
            # server would log with a traceback): the server closes the connection, which is
            # how HTTP/1.1 tells the client the answer is incomplete.
            return
        finally:
            await self._upstream.aclose()


def _sub_path(request: Request) -> str:
    raw = request.scope.get("raw_path") or request.scope["path"].encode("utf-8")
    raw = raw.split(b"?", 1)[0]
    parts = raw.split(b"/", 6)  # "", api, v1, proxy, provider, owner, rest
    return rules.check_sub_path(parts[6] if len(parts) == 7 else b"")


def _api_base(provider: Provider) -> str:
    base = provider.api_base
    if not base:
        raise NotFound(f"{provider.display_name} has no api_base configured, so nothing to "
                       "proxy to", error="proxy_not_configured")
    return base


async def proxy(request: Request) -> Response:
    key = await authenticate(request)
    runtime = runtime_of(request)
    request.app.state.proxy_limiter.take(str(key.id))
    provider_name, owner = request.path_params["provider"], request.path_params["owner"]
    provider = runtime.vault.provider(provider_name)  # 404 like the token API
    key.require_owner(provider_name, owner)
    check_owner(owner)
    if key.read_only and request.method not in READ_METHODS:
        raise Forbidden("this API key is read-only: through the proxy it may only GET and "
                        "HEAD", error="read_only_key")
    sub_path = _sub_path(request)
    if not rules.path_allowed(sub_path, provider.settings.proxy_paths):
        raise Forbidden(f"{provider.display_name}: /{sub_path} is not among the proxied paths "
                        f"({', '.join(provider.settings.proxy_paths)})",
                        error="proxy_path_not_allowed")
    api_base = _api_base(provider)
    limits = runtime.settings.proxy
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limits.max_request_body:
        raise InvalidRequest(f"The request body is larger than {limits.max_request_body} "
                             "bytes.", error=BODY_TOO_LARGE)

    url = rules.upstream_url(api_base, sub_path, request.scope.get("query_string", b""))
    headers = rules.request_headers(request.headers.items(), provider.headers())
    headers.append(("Accept-Encoding", request.headers.get("accept-encoding", "identity")))
    has_body = (declared not in ("", "0")) or "transfer-encoding" in request.headers
    body = _ReplayableBody(request.receive) if has_body else None

    async def send(token: IssuedToken) -> httpx.Response:
        auth = [("Authorization", provider.authorization(token.access_token))]
        outgoing = runtime.http.build_request(
            request.method, url, headers=headers + auth,
            content=body.stream() if body is not None else None)
        try:
            return await runtime.http.send(outgoing, stream=True, follow_redirects=False)
        except httpx.TimeoutException:
            raise ProviderError(f"{provider.display_name} did not answer in time",
                                transient=True, error="proxy_timeout") from None
        except httpx.HTTPError as exc:
            raise ProviderError(f"{provider.display_name} could not be reached "
                                f"({type(exc).__name__})", transient=True,
                                error="proxy_unreachable") from None

    token = await runtime.vault.token(provider_name, owner)
    upstream = await send(token)
    try:
        if upstream.status_code in provider.stale_token_statuses:
            fresh = await runtime.vault.token_after_refusal(provider_name, owner,
                                                            token.access_token)
            if fresh is not None:
                log.info("proxy: retrying with a fresh token provider=%s owner=%s status=%d",
                         provider_name, owner, upstream.status_code)
                await upstream.aclose()
                token = fresh
                upstream = await send(token)
        if upstream.status_code in (429, 503):
            wait = rules.retry_after_seconds(upstream.headers.get("retry-after"),
                                             limits.max_retry_after.total_seconds())
            if wait is not None:
                await upstream.aclose()
                await anyio.sleep(wait)
                upstream = await send(token)
        return _relay(runtime, upstream, provider_name, owner, api_base)
    except BaseException:
        await upstream.aclose()
        raise


def _relay(runtime: Runtime, upstream: httpx.Response, provider_name: str, owner: str,
           api_base: str) -> Response:
    limit = runtime.settings.proxy.max_response_body
    PROXIED.labels(provider_name, str(upstream.status_code)).inc()
    declared = upstream.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise ProviderError(f"the provider's answer is larger than {limit} bytes",
                            transient=False, error="proxy_response_too_large")
    headers = rules.response_headers(list(upstream.headers.multi_items()))
    location = upstream.headers.get("location")
    if location is not None:
        proxy_base = (f"{runtime.settings.public_url}{PREFIX}{quote(provider_name)}/"
                      f"{quote(owner, safe=':@+')}")
        relayed = rules.relayed_location(location, upstream.request.url, api_base, proxy_base)
        if relayed is None:
            raise ProviderError("the provider redirected outside its API; not followed",
                                transient=False, error="proxy_redirect_refused")
        headers = [(k, relayed if k.lower() == "location" else v) for k, v in headers]
    return _Relayed(upstream, headers, limit)


def _routes() -> list[Any]:
    return [Route(PREFIX + "{provider}/{owner}/{path:path}", proxy, methods=METHODS)]


routes = _routes()
