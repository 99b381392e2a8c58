"""Injected failures and latency for the hh.ru look-alike's token endpoint.

A client that refreshes single-use tokens must survive a provider that errs, hangs, throttles,
answers garbage, or (worst) spends the refresh token and then loses the answer. Tests arm one of
these for the next N requests and watch what the client does.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass

from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response

# "lost_response" and "spend_and_hold" are handled by the endpoint: the request is processed,
# then the answer is lost (at once, or after being held until the test releases it: a client
# killed while it waits has spent the grant and never learns the new tokens).
FAULT_MODES = ("500", "html", "badjson", "hang", "429", "lost_response", "spend_and_hold",
               "hold")
# The grant is made (the refresh token spent) before these answer: "hold" answers it late, the
# others never.
SPENDING_MODES = ("lost_response", "spend_and_hold", "hold")

_HTML_ERROR = (
    "<html><head><title>502 Bad Gateway</title></head>"
    "<body><center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center></body></html>"
)


@dataclass
class Fault:
    mode: str
    remaining: int
    retry_after: int = 1
    status: int | None = None  # overrides the mode's usual status code
    after: int = 0  # requests that pass untouched before the fault starts


class HhFaults:
    def __init__(self, hang_seconds: float) -> None:
        self.hang_seconds = hang_seconds
        self.latency_ms = 0.0
        self.armed: Fault | None = None
        self.holding = 0  # answers held right now ("spend_and_hold")
        self._release: asyncio.Event | None = None

    def arm(self, fault: Fault) -> None:
        if fault.mode not in FAULT_MODES:
            raise ValueError(f"unknown fault mode {fault.mode!r}; one of {', '.join(FAULT_MODES)}")
        self.armed = fault if fault.remaining > 0 else None

    def take(self) -> Fault | None:
        """The fault this request must suffer, if any; each request uses up one."""
        fault = self.armed
        if fault is None:
            return None
        if fault.after > 0:
            fault.after -= 1
            return None
        fault.remaining -= 1
        if fault.remaining <= 0:
            self.armed = None
        return fault

    def clear(self) -> None:
        self.armed = None
        self.latency_ms = 0.0
        self.release()

    def release(self) -> None:
        """Let every held answer go (as a lost one)."""
        if self._release is not None:
            self._release.set()
            self._release = None

    async def delay(self) -> None:
        if self.latency_ms > 0:
            await asyncio.sleep(self.latency_ms / 1000)

    async def hold(self) -> None:
        """Until ``release`` (or hang_seconds)."""
        if self._release is None:
            self._release = asyncio.Event()
        self.holding += 1
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._release.wait(), self.hang_seconds)
        finally:
            self.holding -= 1

    async def respond(self, fault: Fault) -> Response:
        """The broken answer for ``fault``, after any hang; nothing in the model was touched."""
        if fault.mode == "hang":
            await asyncio.sleep(self.hang_seconds)
            return PlainTextResponse("Gateway Timeout", status_code=fault.status or 504)
        if fault.mode == "spend_and_hold":
            await self.hold()
        if fault.mode == "429":
            return JSONResponse(
                {"errors": [{"type": "too_many_requests"}]},
                status_code=fault.status or 429,
                headers={"Retry-After": str(fault.retry_after)},
            )
        if fault.mode == "badjson":
            # Declared JSON, cut off mid-way: what a crashed upstream behind a proxy looks like.
            return Response(
                b'{"access_token": "USER',
                status_code=fault.status or 200,
                media_type="application/json",
            )
        if fault.mode in ("html", *SPENDING_MODES):
            return HTMLResponse(_HTML_ERROR, status_code=fault.status or 502)
        return PlainTextResponse("Internal Server Error", status_code=fault.status or 500)
