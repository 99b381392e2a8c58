"""The two requests the gateway answers most, answered straight on ASGI when they succeed from
memory: ``/auth/verify`` (nginx asks it for every protected request) and a bot's
``GET /api/v1/connections/{provider}/{owner}/token``. They skip what such an answer does not need
(routing over every route, the middleware chain, a Request object, and for ``/auth/verify`` the
per-request access-log line).

Only the plain case is taken; anything else goes on to the application's own handler unchanged,
where refusals and errors are answered and logged as before:

- ``/auth/verify``: one session cookie, no ``Authorization`` header, no query but ``role``, a
  valid session that meets the role. The verdict is the same one: the sessions' ``verify``
  (signature, audience, expiry, the revocation set, awaited when stale) and ``meets_role``; the
  headers come from ``session_api.verified_headers``.
- the token: an API key the gateway checked moments ago (``ApiKeys.cached``) whose scope covers
  the owner, a configured provider, and a token the vault gave out moments ago and still keeps
  (``Vault.remembered``), not the application's own. The body is ``api.token_json``'s, written
  once per token up to its last field, ``expires_in`` (``TokenBodies``); the access log gets the
  first such read of a connection and then one line a minute with the count (``reads=N``).
"""

from __future__ import annotations

import json
import logging
import time
from datetime import datetime
from urllib.parse import parse_qsl

from prometheus_client import Counter
from starlette.applications import Starlette
from starlette.datastructures import State
from starlette.routing import BaseRoute
from starlette.types import Receive, Scope, Send

from authgate.errors import Unauthorized
from authgate.metrics import REQUEST_SECONDS, TOKENS_SERVED
from authgate.roles import meets_role
from authgate.runtime import Runtime
from authgate.vault.records import APPLICATION_OWNER
from authgate.vault.service import IssuedToken
from authgate.web.api import expires_in, token_json
from authgate.web.middleware import VERIFY_PATH, security_headers
from authgate.web.request_context import bearer_token
from authgate.web.session_api import verified_headers

TOKEN_ROUTE = "/api/v1/connections/{provider}/{owner}/token"
_Headers = list[tuple[bytes, bytes]]
LOG_EVERY = 60.0


class TokenBodies:
    """The token API's JSON for the tokens in memory: everything up to ``expires_in`` is encoded
    once per token (what changes from one read to the next is that number alone), so a read costs
    an integer's formatting instead of a dict, an RFC 3339 date and a JSON encoding."""

    def __init__(self) -> None:
        # (provider, owner) -> (the token, its JSON up to the value of "expires_in").
        self._heads: dict[tuple[str, str], tuple[IssuedToken, bytes]] = {}

    def body(self, connection: tuple[str, str], issued: IssuedToken, now: datetime) -> bytes:
        kept = self._heads.get(connection)
        if kept is None or kept[0] is not issued:
            kept = self._heads[connection] = (issued, _head(issued, now))
        seconds = expires_in(issued, now)
        return kept[1] + (b"null}" if seconds is None else b"%d}" % seconds)

    def forget(self, connection: tuple[str, str]) -> None:
        """The token is no longer in memory: neither is its JSON."""
        self._heads.pop(connection, None)


def _head(issued: IssuedToken, now: datetime) -> bytes:
    """``token_json`` as the API encodes it (Starlette's JSONResponse), without the value of
    its last field."""
    whole = json.dumps({**token_json(issued, now), "expires_in": None}, ensure_ascii=False,
                       allow_nan=False, separators=(",", ":")).encode()
    assert whole.endswith(b'"expires_in":null}'), whole
    return whole[:-len(b"null}")]


def _encoded(headers: dict[str, str]) -> _Headers:
    return [(name.lower().encode(), value.encode()) for name, value in headers.items()]


class HotPaths:
    """In front of the application ``app`` (inside the proxy-headers middleware, so that the
    client's address is the forwarded one)."""

    def __init__(self, app: Starlette, runtime: Runtime) -> None:
        self.app = app
        self.runtime = runtime
        self.cookie_name = runtime.settings.session.cookie_name
        # The headers the middleware puts on these answers: neither may be a document (the
        # token's answers a bearer request, the check's is nginx's).
        self.fixed_headers = _encoded(security_headers(document=False,
                                                       hsts=runtime.settings.is_https))
        self.observe_verify = REQUEST_SECONDS.labels(VERIFY_PATH).observe
        self.observe_token = REQUEST_SECONDS.labels(TOKEN_ROUTE).observe
        self.access_log = logging.getLogger("authgate.access")
        self.served: dict[str, Counter] = {}
        self.bodies = TokenBodies()
        # (provider, owner) -> (when its last access-log line was written, reads since).
        self.token_reads: dict[tuple[str, str], tuple[float, int]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and await self._answered(scope, send):
            return
        await self.app(scope, receive, send)

    async def _answered(self, scope: Scope, send: Send) -> bool:
        path: str = scope["path"]
        method: str = scope["method"]
        if path == VERIFY_PATH and method in ("GET", "HEAD"):
            return await self._verify(scope, send)
        if path.startswith("/api/v1/connections/") and method == "GET":
            return await self._token(scope, send)
        return False

    # The application's, for whoever reaches it through the middleware's ``app`` (tests, tools).
    @property
    def state(self) -> State:
        return self.app.state

    @property
    def routes(self) -> list[BaseRoute]:
        return self.app.routes

    async def _answer(self, send: Send, fixed: _Headers, headers: _Headers, body: bytes) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": [
            *fixed, (b"content-length", str(len(body)).encode()), *headers]})
        await send({"type": "http.response.body", "body": body})

    # -- /auth/verify ---------------------------------------------------------------------------
    async def _verify(self, scope: Scope, send: Send) -> bool:
        started = time.perf_counter()
        signin = self.runtime.signin
        await signin.revocations.refresh()
        headers = self._passing(scope)
        if headers is None:
            return False
        await self._answer(send, self.fixed_headers, headers, b"")
        self.observe_verify(time.perf_counter() - started)
        return True

    def _passing(self, scope: Scope) -> _Headers | None:
        """The answer's own headers when the check passes in the plain case, else None."""
        role = ""
        query: bytes = scope["query_string"]
        if query:
            params = dict(parse_qsl(query.decode("latin-1"), keep_blank_values=True))
            if params.keys() - {"role"}:
                return None
            role = params.get("role", "")
        token = None
        for name, value in scope["headers"]:
            if name == b"authorization":
                return None
            if name == b"cookie":
                for part in value.decode("latin-1").split(";"):
                    key, _eq, found = part.partition("=")
                    if key.strip() == self.cookie_name:
                        if token is not None:
                            return None  # more than one: refused there
                        token = found.strip()
        if not token:
            return None
        sessions = self.runtime.signin.sessions
        try:
            claims = sessions.verify(token)
        except Unauthorized:
            return None
        if role and not meets_role(claims.role, role):
            return None
        return [(k.lower().encode(), v.encode("latin-1"))
                for k, v in verified_headers(claims, sessions.seconds_left(claims))]

    # -- GET /api/v1/connections/{provider}/{owner}/token ---------------------------------------
    async def _token(self, scope: Scope, send: Send) -> bool:
        started = time.perf_counter()
        parts = scope["path"].split("/")
        if len(parts) != 7 or parts[6] != "token" or scope["query_string"]:
            return False
        provider, owner = parts[4], parts[5]
        if not provider or not owner or owner == APPLICATION_OWNER:
            return False
        runtime = self.runtime
        key = runtime.apikeys.cached(bearer_token(scope["headers"]))
        vault = runtime.vault
        if key is None or not key.may_see(owner) or provider not in vault.providers:
            return False
        issued = vault.remembered(provider, owner)
        if issued is None:
            self.bodies.forget((provider, owner))
            return False
        served = self.served.get(provider)
        if served is None:
            served = self.served[provider] = TOKENS_SERVED.labels(provider)
        served.inc()
        body = self.bodies.body((provider, owner), issued, runtime.clock.now())
        await self._answer(send, self.fixed_headers, [(b"content-type", b"application/json")],
                           body)
        elapsed = time.perf_counter() - started
        self.observe_token(elapsed)
        self._log_token_read(scope, provider, owner, elapsed)
        return True

    def _log_token_read(self, scope: Scope, provider: str, owner: str, elapsed: float) -> None:
        """The access-log line of a token read from memory: the first one of a connection, then
        at most one a minute, with how many reads it stands for (a line per read cost a quarter
        of the answer's CPU; refusals and errors, answered by the API, are logged every time)."""
        now = time.monotonic()
        last, count = self.token_reads.get((provider, owner), (-LOG_EVERY, 0))
        if now - last < LOG_EVERY:
            self.token_reads[(provider, owner)] = (last, count + 1)
            return
        self.token_reads[(provider, owner)] = (now, 0)
        client = scope.get("client")
        self.access_log.info("%s %s status=%d ms=%.1f ip=%s reads=%d", "GET", scope["path"], 200,
                             elapsed * 1000, client[0] if client else "-", count + 1)
