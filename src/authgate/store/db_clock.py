"""One clock for every replica: the database server's.

Claims, leases, due checks and token expiry are compared across replicas, so they must all be
read from one clock. Asking the server for every timestamp would cost a round trip each; instead
each process measures its offset from the server (``clock_timestamp()`` between two local
readings, the offset taken at their midpoint) and reads ``local + offset`` until the next
measurement. On loopback or a LAN the error is the round trip's half: well under a millisecond to
a few; a replica whose own clock is minutes off still reads the database's time.

SQLite is a file on this machine: its clock is this machine's, and there is nothing to measure
(nor with a clock a test moves by hand).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import Engine, text

from authgate.clock import Clock, OffsetClock, SystemClock

log = logging.getLogger("authgate.store")

# Above this the replica's clock is reported as skewed (/readyz, doctor, the log): times are
# still right (they are the database's), but the machine's clock wants NTP.
SKEW_WARNING_SECONDS = 1.0


# A measurement whose readings are further apart than this is taken again (at most
# MEASUREMENTS times; the last one stands).
MAX_ROUND_TRIP = timedelta(seconds=1)
MEASUREMENTS = 3


class DatabaseClock:
    """``local`` corrected to the database server's time (PostgreSQL; SQLite: ``local``)."""

    def __init__(self, local: Clock, engine: Engine) -> None:
        self.local = local
        # A clock a test drives by hand (FrozenClock) is the world's time itself: nothing to
        # correct. The system clock, and the tests' shifted one, are measured.
        measurable = isinstance(local, SystemClock | OffsetClock)
        self._engine = engine if engine.dialect.name == "postgresql" and measurable else None
        self._offset = timedelta(0)
        self._measured = False

    @property
    def measured(self) -> bool:
        """Whether the offset is known (always, for SQLite)."""
        return self._engine is None or self._measured

    @property
    def skew(self) -> float | None:
        """This process's clock minus the database's, in seconds (None: SQLite, or not measured
        yet)."""
        if self._engine is None or not self._measured:
            return None
        return -self._offset.total_seconds()

    def now(self) -> datetime:
        return self.local.now() + self._offset

    def _database_shift(self) -> float:
        """Seconds the tests add to the database server's real clock (0 outside the tests)."""
        return self.local.database_shift() if isinstance(self.local, OffsetClock) else 0.0

    def sync(self) -> float | None:
        """Measure the offset again (blocking: one query); returns ``skew``. Raises what the
        database raises when it cannot be reached; the last offset stays in use then."""
        if self._engine is None:
            return None
        with self._engine.connect() as conn:
            for _ in range(MEASUREMENTS):
                shift = self._database_shift()
                before = self.local.now()
                server: datetime = conn.execute(text("SELECT clock_timestamp()")).scalar_one()
                after = self.local.now()
                # A clock that moved during the measurement (a stall, or a test moving time
                # between the readings) would skew the offset by as much: measure again.
                if after - before < MAX_ROUND_TRIP and abs(
                        self._database_shift() - shift) < MAX_ROUND_TRIP.total_seconds():
                    break
        server += timedelta(seconds=shift)
        was_skewed = _skewed(self.skew)
        self._offset = server - (before + (after - before) / 2)
        self._measured = True
        # One line per change of state, not one per measurement.
        if _skewed(self.skew) and not was_skewed:
            log.warning("this machine's clock is %+.1f s off the database's; authgate uses the "
                        "database's time, but synchronize this clock (NTP)", self.skew)
        elif was_skewed and not _skewed(self.skew):
            log.info("this machine's clock agrees with the database's again (%+.3f s)",
                     self.skew)
        return self.skew


def _skewed(skew: float | None) -> bool:
    return skew is not None and abs(skew) > SKEW_WARNING_SECONDS
