"""Per-address limits in the gateway itself, for what anonymous requests make it store: a
browser flow (``/auth/{provider}/login``: a row for 10 minutes) or a sign-in attempt (a line in
the sign-in log). nginx limits these paths too, but the gateway must not depend on being
deployed behind it.

A token bucket per client address, in memory, per process: ``burst`` at once, then one more
every ``per`` seconds. So one address holds at most ``burst + lifetime / per`` live flows per
worker, whatever it sends. The table of addresses is bounded (oldest forgotten first).
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field

from starlette.requests import Request

from authgate.errors import RateLimited
from authgate.web.request_context import client_ip, trusted_peer

_MAX_ADDRESSES = 100_000


class Throttle:
    def __init__(self, *, burst: int, per: float, what: str,
                 whose: str = "from your address") -> None:
        self.burst = burst
        self.per = per
        self._what = what
        self._whose = whose
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # tokens, at
        self._lock = threading.Lock()

    def take(self, address: str | None, now: float | None = None) -> None:
        """Spend one token of ``address`` or raise ``RateLimited`` with the wait."""
        if address is None:
            return
        now = time.monotonic() if now is None else now
        with self._lock:
            tokens, at = self._buckets.pop(address, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - at) / self.per)
            if tokens < 1.0:
                self._buckets[address] = (tokens, now)
                wait = math.ceil((1.0 - tokens) * self.per)
                raise RateLimited(f"Too many {self._what} {self._whose}. Please wait "
                                  f"{wait} s and try again.", retry_after=wait,
                                  error="too_many_requests")
            self._buckets[address] = (tokens - 1.0, now)
            while len(self._buckets) > _MAX_ADDRESSES:
                self._buckets.popitem(last=False)


@dataclass
class Throttles:
    """The app's limits (one set per app: ``app.state.throttles``)."""

    # 20 sign-ins started at once, then one every 30 s: at most 40 live flow rows (10 min each).
    flow_starts: Throttle = field(default_factory=lambda: Throttle(
        burst=20, per=30.0, what="sign-in attempts"))
    # 10 password attempts at once, then one every 6 s: each is a line in the sign-in log.
    password_posts: Throttle = field(default_factory=lambda: Throttle(
        burst=10, per=6.0, what="sign-in attempts"))


def throttle(request: Request, which: str) -> None:
    """Spend one of the client's tokens of ``which`` (a ``Throttles`` field); the proxies in
    trusted_proxies themselves (a local process, not a client they forward) are not limited."""
    if not trusted_peer(request):
        limiter: Throttle = getattr(request.app.state.throttles, which)
        limiter.take(client_ip(request))
