"""When to try a failed delivery again, and when to give up. Plain module."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from authgate.protocol.refresh_policy import backoff_delay

# Failed deliveries are retried this long after the message was written (or resent).
RETRY_WINDOW = timedelta(hours=24)
# The first retry comes after 2.5-5 s, each later one after twice as long, at most 30-60 min.
BASE_DELAY = 5.0
MAX_DELAY = 3600.0


def next_attempt_at(attempts: int, *, now: datetime, retry_until: datetime,
                    retry_after: float | None = None,
                    rng: random.Random | None = None) -> datetime | None:
    """After the ``attempts``-th failed attempt: when to try again, or None (give up).

    Exponential backoff with jitter; a receiver's ``retry_after`` is honoured when longer. The
    last attempt is made at ``retry_until``, not skipped because the backoff would overshoot it.
    """
    if now >= retry_until:
        return None
    delay = backoff_delay(attempts, base=BASE_DELAY, cap=MAX_DELAY, rng=rng)
    delay = max(delay, retry_after or 0.0)
    return min(now + timedelta(seconds=delay), retry_until)
