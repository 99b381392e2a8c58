"""``/auth/verify`` for a request that passes, answered straight on ASGI: nginx asks it for every
protected request, so it skips what a passing check does not need (routing, the middleware
chain, the per-request access-log line, a Request object).

Only the plain case is taken: one session cookie, no ``Authorization`` header, no query but
``role``, a valid session that meets the role. Everything else — a refusal, a duplicate cookie,
``?aud=``, a Bearer token — goes on to the application's own ``session_api.verify`` unchanged,
where refusals and errors are logged as before. The verdict is the same one: the sessions'
``verify`` (signature, audience, expiry, the revocation set, awaited when stale) and
``meets_role``; the headers come from ``session_api.verified_headers``.
"""

from __future__ import annotations

import time
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Receive, Scope, Send

from authgate.errors import Unauthorized
from authgate.metrics import REQUEST_SECONDS
from authgate.roles import meets_role
from authgate.signin.services import SigninServices
from authgate.web.middleware import SECURITY_HEADERS
from authgate.web.session_api import verified_headers

PATH = "/auth/verify"


class VerifyFastPath:
    """``chain`` answers everything else; ``app`` is the Starlette application inside it (its
    ``state``, for whoever holds the outermost app)."""

    def __init__(self, chain: ASGIApp, app: ASGIApp, signin: SigninServices, *,
                 cookie_name: str, hsts: bool) -> None:
        self.chain = chain
        self.app = app
        self.signin = signin
        self.cookie_name = cookie_name
        # The same headers the middleware puts on every answer of the gateway.
        fixed = [*SECURITY_HEADERS.items(), ("Cache-Control", "no-store"),
                 ("Content-Length", "0")]
        if hsts:
            fixed.append(("Strict-Transport-Security", "max-age=31536000"))
        self.fixed = [(k.lower().encode(), v.encode()) for k, v in fixed]
        self.observe = REQUEST_SECONDS.labels(PATH).observe

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (scope["type"] != "http" or scope["path"] != PATH
                or scope["method"] not in ("GET", "HEAD")):
            await self.chain(scope, receive, send)
            return
        started = time.perf_counter()
        await self.signin.revocations.refresh()
        headers = self._passing(scope)
        if headers is None:
            await self.chain(scope, receive, send)
            return
        await send({"type": "http.response.start", "status": 200,
                    "headers": [*self.fixed, *headers]})
        await send({"type": "http.response.body", "body": b""})
        self.observe(time.perf_counter() - started)

    def _passing(self, scope: Scope) -> list[tuple[bytes, bytes]] | None:
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
        sessions = self.signin.sessions
        try:
            claims = sessions.verify(token)
        except Unauthorized:
            return None
        if role and not meets_role(claims.role, role):
            return None
        return [(k.lower().encode(), v.encode("latin-1"))
                for k, v in verified_headers(claims, sessions.seconds_left(claims))]
