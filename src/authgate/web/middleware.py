"""Pure-ASGI middleware: security headers on every answer of the gateway's pages and API, and a
limit on the request bodies it reads."""

from __future__ import annotations

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from authgate.errors import InvalidRequest
from authgate.web.request_context import bearer_token

BODY_TOO_LARGE = "body_too_large"

# On every answer.
SECURITY_HEADERS = {"X-Content-Type-Options": "nosniff"}
# nginx's auth_request check: its answers are read by nginx, which answers the browser itself.
VERIFY_PATH = "/auth/verify"
# On every answer a browser may render, frame or follow (``may_be_document``): all but the
# answers to a bearer request and the check's. A browser sends no Authorization: Bearer when it
# navigates to, frames or opens a page; only a script's fetch can, and what fetch gets is handed
# to the script, never rendered. The check's answer is an empty 200 or a JSON refusal (nosniff),
# for nginx; a browser that opens it anyway has nothing to frame or run. So the answers to bots
# (the API, the proxy) and to nginx go without these, whose writing was about a tenth of a
# token read's CPU and a sixth of a check's (bench/vault_token_api.py).
DOCUMENT_HEADERS = {
    "Content-Security-Policy": ("default-src 'self'; script-src 'self'; style-src 'self'; "
                                "img-src 'self' data: https:; object-src 'none'; "
                                "base-uri 'none'; frame-ancestors 'none'"),
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
}


def security_headers(*, document: bool, hsts: bool) -> dict[str, str]:
    """What an answer gets, each header unless the answer set its own: ``SECURITY_HEADERS``,
    ``DOCUMENT_HEADERS`` when it may be a document, HSTS on https, ``Cache-Control: no-store``."""
    headers = dict(SECURITY_HEADERS)
    if document:
        headers |= DOCUMENT_HEADERS
    if hsts:
        headers["Strict-Transport-Security"] = "max-age=31536000"
    headers["Cache-Control"] = "no-store"
    return headers


def may_be_document(scope: Scope) -> bool:
    """Whether a browser may render the answer to this ASGI request (see ``DOCUMENT_HEADERS``)."""
    return scope["path"] != VERIFY_PATH and bearer_token(scope["headers"]) is None


class SecurityHeaders:
    """``security_headers`` on every answer: with the document headers when it may be one."""

    def __init__(self, app: ASGIApp, *, hsts: bool) -> None:
        self.app = app
        self.for_documents = security_headers(document=True, hsts=hsts)
        self.for_others = security_headers(document=False, hsts=hsts)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        added = self.for_documents if may_be_document(scope) else self.for_others

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in added.items():
                    headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)


class BodyLimit:
    """Refuse a request body longer than ``limit`` bytes (413, through the error handlers), by
    its Content-Length or as it arrives: form and JSON parsing would otherwise keep it all.
    ``limits`` sets another limit for the paths under a prefix (the proxy's own)."""

    def __init__(self, app: ASGIApp, *, limit: int, limits: dict[str, int] | None = None) -> None:
        self.app = app
        self.limit = limit
        self.limits = limits or {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length", "")
        path: str = scope["path"]
        limit = next((v for k, v in self.limits.items() if path.startswith(k)), self.limit)
        received = 0

        def too_large() -> InvalidRequest:
            return InvalidRequest(f"The request body is larger than {limit} bytes.",
                                  error=BODY_TOO_LARGE)

        async def limited() -> Message:
            nonlocal received
            if declared.isdigit() and int(declared) > limit:
                raise too_large()
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise too_large()
            return message

        await self.app(scope, limited, send)
