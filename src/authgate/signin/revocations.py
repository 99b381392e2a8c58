"""Which session ids are revoked, kept in memory so that checking a session needs no database.

The set is reloaded from ``sessions`` at most every ``interval`` seconds, in a worker thread, so a
request never waits for it: a revocation made by another process (``authgate users disable``, a
second gateway) takes effect here within about ``interval``; one made by this process at once.
Only unexpired revoked sessions are loaded: an expired token fails its ``exp`` check anyway.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from authgate.clock import Clock
from authgate.store.models import Session as SessionRow

log = logging.getLogger("authgate.signin")


class RevocationCache:
    def __init__(self, db: sessionmaker[Session], clock: Clock, *, interval: float = 1.0) -> None:
        self._db = db
        self._clock = clock
        self._interval = interval
        self._revoked: frozenset[str] = frozenset()
        # Revoked here, with when: kept through reloads that may have read the table just before
        # the revocation was committed.
        self._local: dict[str, float] = {}
        self._lock = threading.Lock()
        self._loaded = -1e9
        self._reloading = False
        # Run after each reload, off the request path too (the signing keys hook in here).
        self.on_reload: list[Callable[[datetime], None]] = []

    def is_revoked(self, sid: str) -> bool:
        self._maybe_reload()
        return sid in self._revoked

    def add(self, *sids: str) -> None:
        now = time.monotonic()
        with self._lock:
            self._local.update(dict.fromkeys(sids, now))
            self._revoked = self._revoked | frozenset(sids)

    def load(self) -> None:
        started = time.monotonic()
        now = self._clock.now()
        with self._db() as s:
            rows = set(s.scalars(select(SessionRow.id).where(
                SessionRow.revoked_at.is_not(None), SessionRow.expires_at > now)))
        with self._lock:
            horizon = started - 10 * max(self._interval, 1.0)
            self._local = {sid: at for sid, at in self._local.items() if at >= horizon}
            self._revoked = frozenset(rows | set(self._local))
            self._loaded = time.monotonic()
        for hook in self.on_reload:
            hook(now)

    def _maybe_reload(self) -> None:
        if self._reloading or time.monotonic() - self._loaded < self._interval:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.load()  # no event loop (CLI, tests): just read it
            return
        self._reloading = True
        loop.run_in_executor(None, self._background_load)

    def _background_load(self) -> None:
        try:
            self.load()
        except Exception as exc:  # the old set stays in force; the next request retries
            log.warning("could not reload revoked sessions: %s", type(exc).__name__)
            self._loaded = time.monotonic()
        finally:
            self._reloading = False
