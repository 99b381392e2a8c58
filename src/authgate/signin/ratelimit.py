"""Password guessing limits, per IP and per username, counted from the sign-in log.

Counting rows of ``signin_events`` (instead of keeping counters in memory) makes the limit hold
across processes and restarts. Only ``failure`` rows count: the refusals the limit itself causes
do not, so a locked-out client is free again one window after its last real attempt.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session, sessionmaker

from authgate.errors import RateLimited
from authgate.signin.audit import FAILURE, LOCAL
from authgate.store.models import SigninEvent


class PasswordLimiter:
    def __init__(self, db: sessionmaker[Session], *, max_failures: int,
                 window: timedelta) -> None:
        self._db = db
        self._max = max_failures
        self._window = window

    def check(self, *, username: str, ip: str | None, now: datetime) -> None:
        """Raise ``RateLimited`` (with the seconds to wait) when either count is exhausted."""
        waits = [self._wait(SigninEvent.username == username[:150], now)]
        if ip:
            waits.append(self._wait(SigninEvent.ip == ip, now))
        wait = max(waits)
        if wait > 0:
            raise RateLimited("Too many failed sign-in attempts. Please wait and try again.",
                              retry_after=math.ceil(wait), error="too_many_attempts")

    def _wait(self, who: ColumnElement[bool], now: datetime) -> float:
        with self._db() as s:
            times = list(s.scalars(
                select(SigninEvent.at)
                .where(who, SigninEvent.provider == LOCAL, SigninEvent.result == FAILURE,
                       SigninEvent.at > now - self._window)
                .order_by(SigninEvent.at.desc()).limit(self._max)))
        if len(times) < self._max:
            return 0.0
        # Free again when the max-th most recent failure leaves the window.
        return max(1.0, (times[-1] + self._window - now).total_seconds())
