"""Time as a dependency: domain code asks a ``Clock`` instead of calling ``datetime.now``.

Tests pass a ``FrozenClock`` and move it forward instead of sleeping.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware, in UTC."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class FrozenClock:
    """A clock that only moves when told to."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 1, 1, tzinfo=UTC)

    def now(self) -> datetime:
        return self._now

    def advance(self, seconds: float) -> None:
        self._now += timedelta(seconds=seconds)

    def set(self, when: datetime) -> None:
        self._now = when


# -- a clock the test suite moves, for processes it started -----------------------------------

# Not AUTHGATE_*: those are configuration keys, and an unknown one is a configuration error.
TEST_CLOCK_FILE_ENV = "TESTONLY_AUTHGATE_CLOCK_FILE"
TEST_CLOCK_CONSENT_ENV = "TESTONLY_AUTHGATE_CLOCK_CONSENT"
# Seconds a replica's clock runs ahead of its clock file (negative: behind), constantly; the
# database's clock goes by the file alone. One file moves the world and every replica with it, so
# no reader can see one clock moved and not the other.
TEST_CLOCK_SKEW_ENV = "TESTONLY_AUTHGATE_CLOCK_SKEW"
TEST_CLOCK_CONSENT = "shift-time-for-tests"
_LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


class OffsetClock:
    """The system clock plus an offset in seconds that a test writes to a file; or, when the
    file says ``@SECONDS``, that moment (since the epoch), standing still.

    The file is looked at on every call, so a test moves time in a running gateway (and the
    devidp next to it) by writing a new value; it writes a temporary file and renames it over, so
    a reader never sees half a number. An unreadable file keeps the last value. It is read with
    plain ``os`` calls: a sixth of what ``Path.read_text`` costs, on a busy refresh path.
    """

    def __init__(self, path: Path, *, skew: float = 0.0) -> None:
        self.path = path
        self._skew = skew
        # (offset, False), or (the frozen moment, True): one attribute, replaced whole, so that
        # threads reading the clock never see half of a change.
        self._last = (0.0, False)

    def _read(self) -> tuple[float, bool]:
        with contextlib.suppress(OSError, ValueError):
            fd = os.open(self.path, os.O_RDONLY)
            try:
                text = os.read(fd, 64).decode().strip()
            finally:
                os.close(fd)
            frozen = text.startswith("@")
            self._last = (float(text[1:] if frozen else text or 0), frozen)
        return self._last

    def timestamp(self) -> float:
        """Seconds since the epoch (the devidp's kind of clock)."""
        value, frozen = self._read()
        return (value if frozen else time.time() + value) + self._skew

    def now(self) -> datetime:
        value, frozen = self._read()
        if frozen:
            return datetime.fromtimestamp(value + self._skew, UTC)
        return datetime.now(UTC) + timedelta(seconds=value + self._skew)

    def database_shift(self) -> float:
        """Seconds the tests add to the database server's real clock just now (the file's
        shift, without this process's skew)."""
        return self.timestamp() - self._skew - time.time()


class ShiftedClockRefused(Exception):
    """The test-only clock variables are set where they must not take effect."""


def shifted_clock_from_environ(environ: Mapping[str, str], *urls: str) -> OffsetClock | None:
    """The shifted clock a test asked for, or None when the variables are not set.

    Production must never run with a shifted clock by accident, so the file variable alone is
    refused, not ignored (``serve`` exits 2); it takes effect only together with the consent
    variable set to the exact phrase, and only for a server on loopback (``urls``: the gateway's
    ``public_url`` and listen address, or the devidp's address).
    """
    path = environ.get(TEST_CLOCK_FILE_ENV, "")
    if not path:
        return None
    if environ.get(TEST_CLOCK_CONSENT_ENV, "") != TEST_CLOCK_CONSENT:
        raise ShiftedClockRefused(
            f"{TEST_CLOCK_FILE_ENV} is set: it shifts authgate's clock and is for the test suite "
            f"only (it takes effect only with {TEST_CLOCK_CONSENT_ENV}={TEST_CLOCK_CONSENT}); "
            "unset it")
    for url in urls:
        parts = urlsplit(url)
        if parts.scheme != "http" or parts.hostname not in _LOOPBACK_HOSTS:
            raise ShiftedClockRefused(
                f"{TEST_CLOCK_FILE_ENV} is set but {url} is not a loopback http:// address: the "
                "test clock is refused outside tests; unset it")
    if not Path(path).is_file():
        raise ShiftedClockRefused(f"{TEST_CLOCK_FILE_ENV} names {path}, which is not a file")
    try:
        skew = float(environ.get(TEST_CLOCK_SKEW_ENV, "") or 0)
    except ValueError:
        raise ShiftedClockRefused(f"{TEST_CLOCK_SKEW_ENV} is not a number of seconds") from None
    return OffsetClock(Path(path), skew=skew)
