"""Password guessing limits, per IP and per username, counted from the sign-in log.

Counting rows of ``signin_events`` (instead of keeping counters in memory) makes the limit hold
across processes and restarts. Only ``failure`` rows count: the refusals the limit itself causes
do not, so a locked-out client is free again one window after its last real attempt.

An attempt is counted *before* its password is checked (``admit``): its row is committed first,
as a failure still ``checking``, and only then are the failures counted. Of any number of attempts
sent at once, the k-th to commit sees at least k - 1 others, so no more than ``max_failures`` of
them get to the password check, in one process or many.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session, sessionmaker

from authgate.errors import RateLimited
from authgate.signin.audit import FAILURE, LOCAL, REFUSED, Client, SigninLog
from authgate.store.models import SigninEvent

TOO_MANY = "too_many_attempts"


class PasswordLimiter:
    def __init__(self, db: sessionmaker[Session], log: SigninLog, *, max_failures: int,
                 window: timedelta) -> None:
        self._db = db
        self._log = log
        self._max = max_failures
        self._window = window

    def admit(self, *, username: str, client: Client, now: datetime) -> int:
        """Count this attempt, then decide: returns the id of its sign-in log row (to be
        settled with the check's result), or raises ``RateLimited`` (the row then says
        ``refused``, and counts no more)."""
        event = self._log.pending(now=now, provider=LOCAL, client=client, username=username)
        try:
            self._raise_if_over(username=username, ip=client.ip, now=now, exclude=event)
        except RateLimited as exc:
            self._log.settle(event, result=REFUSED, reason=exc.error)
            raise
        return event

    def check(self, *, username: str, ip: str | None, now: datetime) -> None:
        """Raise ``RateLimited`` (with the seconds to wait) when either count is exhausted."""
        self._raise_if_over(username=username, ip=ip, now=now, exclude=None)

    def _raise_if_over(self, *, username: str, ip: str | None, now: datetime,
                       exclude: int | None) -> None:
        waits = [self._wait(SigninEvent.username == username[:150], now, exclude)]
        if ip:
            waits.append(self._wait(SigninEvent.ip == ip, now, exclude))
        wait = max(waits)
        if wait > 0:
            raise RateLimited("Too many failed sign-in attempts. Please wait and try again.",
                              retry_after=math.ceil(wait), error=TOO_MANY)

    def _wait(self, who: ColumnElement[bool], now: datetime, exclude: int | None) -> float:
        query = (select(SigninEvent.at)
                 .where(who, SigninEvent.provider == LOCAL, SigninEvent.result == FAILURE,
                        SigninEvent.at > now - self._window)
                 .order_by(SigninEvent.at.desc()).limit(self._max))
        if exclude is not None:
            query = query.where(SigninEvent.id != exclude)
        with self._db() as s:
            times = list(s.scalars(query))
        if len(times) < self._max:
            return 0.0
        # Free again when the max-th most recent failure leaves the window.
        return max(1.0, (times[-1] + self._window - now).total_seconds())
