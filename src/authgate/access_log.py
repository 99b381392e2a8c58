"""One access-log line per HTTP request, for the gateway and the development identity provider.

The line records the path without its query string: callbacks carry codes and states there.
"""

from __future__ import annotations

import logging
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from authgate.metrics import REQUEST_SECONDS


class AccessLog:
    def __init__(self, app: ASGIApp, *, logger: str = "authgate.access") -> None:
        self.app = app
        self.log = logging.getLogger(logger)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def capture(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, capture)
        finally:
            elapsed = time.perf_counter() - started
            route = scope.get("route")
            REQUEST_SECONDS.labels(getattr(route, "path", "other")).observe(elapsed)
            client = scope.get("client")
            self.log.info("%s %s status=%d ms=%.1f ip=%s", scope["method"], scope["path"],
                            status, elapsed * 1000, client[0] if client else "-")
