"""Password guessing limits, counted from the sign-in log.

Three counts, each over ``failure_window``:

- **per IP**: ``max_failures`` failed passwords from one address, then 429 until the oldest of
  them leaves the window (one address guessing many names);
- **per (username, IP)**: the same for one name from one address;
- **per username, from anywhere**: a slowdown, never a lock-out. Once a name has
  ``max_failures`` failures in the window, each next attempt must wait 2, 4, 8 … seconds (at most
  ``SLOWDOWN_CAP``) after the latest failure. Someone guessing from many addresses gets a few
  guesses a minute; the owner, from their own address, waits seconds, not the whole window.

Counting rows of ``signin_events`` (instead of keeping counters in memory) makes the limits hold
across processes and restarts. Only ``failure`` rows count: the refusals the limits themselves
cause do not, so a refused client is free again as the failures age.

An attempt is counted *before* its password is checked (``admit``): in one transaction its row is
written, as a failure still ``checking``, and the failures are counted. Attempts are serialized
there — by SQLite's single writer, on PostgreSQL by transaction-scoped advisory locks on the
name and the address — so of any number sent at once, in one process or many, the k-th sees
exactly the k - 1 before it, and no more than ``max_failures`` get to the password check.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, select, text
from sqlalchemy.orm import Session, sessionmaker

from authgate.errors import RateLimited
from authgate.metrics import SIGNINS
from authgate.signin.audit import FAILURE, LOCAL, PENDING, REFUSED, Client, event_row
from authgate.store.models import SigninEvent

TOO_MANY = "too_many_attempts"
SLOWDOWN_CAP = 30.0  # seconds: the longest the owner of a name under attack waits


class PasswordLimiter:
    def __init__(self, db: sessionmaker[Session], *, max_failures: int,
                 window: timedelta) -> None:
        self._db = db
        self._max = max_failures
        self._window = window

    def admit(self, *, username: str, client: Client, now: datetime) -> int:
        """Count this attempt, then decide: returns the id of its sign-in log row (to be
        settled with the check's result), or raises ``RateLimited`` (the row then says
        ``refused``, and counts no more)."""
        refused: RateLimited | None = None
        with self._db.begin() as s:
            _serialize(s, f"name:{username[:150]}", f"ip:{client.ip}")
            row = event_row(now=now, provider=LOCAL, result=FAILURE, client=client,
                            username=username, reason=PENDING)
            s.add(row)
            s.flush()
            try:
                self._raise_if_over(s, username=username, ip=client.ip, now=now,
                                    exclude=row.id)
            except RateLimited as exc:
                row.result, row.reason, refused = REFUSED, exc.error, exc
            event = row.id
        if refused is not None:
            SIGNINS.labels(LOCAL, REFUSED).inc()
            raise refused
        return event

    def check(self, *, username: str, ip: str | None, now: datetime) -> None:
        """Raise ``RateLimited`` (with the seconds to wait) when either count is exhausted."""
        with self._db() as s:
            self._raise_if_over(s, username=username, ip=ip, now=now, exclude=None)

    def _raise_if_over(self, s: Session, *, username: str, ip: str | None, now: datetime,
                       exclude: int | None) -> None:
        name = SigninEvent.username == username[:150]
        waits = [self._slowdown(s, name, now, exclude)]
        if ip:
            waits.append(self._wait(s, SigninEvent.ip == ip, now, exclude))
            waits.append(self._wait(s, name & (SigninEvent.ip == ip), now, exclude))
        wait = max(waits)
        if wait > 0:
            raise RateLimited("Too many failed sign-in attempts. Please wait "
                              f"{math.ceil(wait)} s and try again.",
                              retry_after=math.ceil(wait), error=TOO_MANY)

    def _failures(self, s: Session, who: ColumnElement[bool], now: datetime,
                  exclude: int | None, limit: int) -> list[datetime]:
        """The latest failures of ``who`` in the window, newest first."""
        query = (select(SigninEvent.at)
                 .where(who, SigninEvent.provider == LOCAL, SigninEvent.result == FAILURE,
                        SigninEvent.at > now - self._window)
                 .order_by(SigninEvent.at.desc()).limit(limit))
        if exclude is not None:
            query = query.where(SigninEvent.id != exclude)
        return list(s.scalars(query))

    def _wait(self, s: Session, who: ColumnElement[bool], now: datetime,
              exclude: int | None) -> float:
        times = self._failures(s, who, now, exclude, self._max)
        if len(times) < self._max:
            return 0.0
        # Free again when the max-th most recent failure leaves the window.
        return max(1.0, (times[-1] + self._window - now).total_seconds())

    def _slowdown(self, s: Session, who: ColumnElement[bool], now: datetime,
                  exclude: int | None) -> float:
        # Up to the count that reaches the cap; more would not change the wait.
        limit = self._max + int(math.log2(SLOWDOWN_CAP)) + 1
        times = self._failures(s, who, now, exclude, limit)
        over = len(times) - self._max
        if over < 0:
            return 0.0
        step = min(SLOWDOWN_CAP, 2.0 ** (over + 1))
        return max(0.0, (times[0] + timedelta(seconds=step) - now).total_seconds())


def _serialize(s: Session, *keys: str) -> None:
    """Make concurrent attempts on the same keys take turns until this transaction ends. SQLite
    has one writer at a time anyway (the attempt's row is written first); PostgreSQL gets an
    advisory lock per key, always taken in the same order, so two attempts cannot deadlock."""
    if s.get_bind().dialect.name != "postgresql":
        return
    for key in keys:
        s.execute(text("SELECT pg_advisory_xact_lock(hashtext(:key))"),
                  {"key": f"authgate-signin:{key}"})
