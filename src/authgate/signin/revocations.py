"""Which session ids are revoked, kept in memory so that checking a session needs no database.

The set is reloaded from ``sessions`` in a worker thread. A revocation made by this process is in
the set at once; one made by another process (``authgate users disable``, a second gateway or
worker) is seen by every check that starts more than ``interval`` seconds (1 s) after it was
committed, plus the time one reload takes:

- while the set is younger than ``interval``, checks answer from it (and once it is half that
  old, a reload starts in the background, so a busy gateway rarely waits);
- an async caller that finds it older (after an idle spell) awaits ``refresh`` — one reload
  shared by all who wait — instead of answering from the stale set, so the first request after
  the idle spell already sees the revocation;
- without an event loop (CLI, tests) a stale set is simply reloaded inline;
- a serving gateway also reloads on a schedule (``keep_fresh``), requests or not: nginx's verify
  cache asks it rarely, and learns of a change only through the verdict epoch written when the
  set changes (``on_change``; see verdict_epoch.py).

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
        self._inflight: asyncio.Future[None] | None = None
        # Run after each reload, off the request path too (the signing keys hook in here).
        self.on_reload: list[Callable[[datetime], None]] = []
        # Run when the set has changed, before the change's caller goes on (nginx's verify cache
        # hooks in here: see verdict_epoch.py).
        self.on_change: list[Callable[[], None]] = []

    def is_revoked(self, sid: str) -> bool:
        self._maybe_reload()
        return sid in self._revoked

    @property
    def stale(self) -> bool:
        return time.monotonic() - self._loaded >= self._interval

    async def refresh(self) -> None:
        """Wait for a reload when the set is older than ``interval`` (one shared reload)."""
        if self.stale:
            await asyncio.shield(self._start_reload(asyncio.get_running_loop()))

    async def keep_fresh(self) -> None:
        """Reload on a schedule as well (a serving gateway, until cancelled): nginx's verify
        cache asks the gateway only about once a second per session, and learns of a revocation
        by another process only when the gateway has (its verdict epoch): the set must not wait
        for requests to grow old."""
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self._interval / 2)
            if time.monotonic() - self._loaded >= self._interval / 2:
                await asyncio.shield(self._start_reload(loop))

    def add(self, *sids: str) -> None:
        now = time.monotonic()
        with self._lock:
            self._local.update(dict.fromkeys(sids, now))
            before, self._revoked = self._revoked, self._revoked | frozenset(sids)
        if self._revoked != before:
            self._changed()

    def load(self) -> None:
        started = time.monotonic()
        now = self._clock.now()
        with self._db() as s:
            rows = set(s.scalars(select(SessionRow.id).where(
                SessionRow.revoked_at.is_not(None), SessionRow.expires_at > now)))
        with self._lock:
            horizon = started - 10 * max(self._interval, 1.0)
            self._local = {sid: at for sid, at in self._local.items() if at >= horizon}
            before, self._revoked = self._revoked, frozenset(rows | set(self._local))
            self._loaded = time.monotonic()
        if not self._revoked <= before:
            self._changed()  # a revocation by another process, now seen here
        for hook in self.on_reload:
            hook(now)

    def _changed(self) -> None:
        for hook in self.on_change:
            hook()

    def _maybe_reload(self) -> None:
        age = time.monotonic() - self._loaded
        if age < self._interval / 2:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            if age >= self._interval:
                self.load()  # no event loop (CLI, tests): just read it
            return
        self._start_reload(loop)

    def _start_reload(self, loop: asyncio.AbstractEventLoop) -> asyncio.Future[None]:
        if (self._inflight is None or self._inflight.done()
                or self._inflight.get_loop() is not loop):
            self._inflight = loop.run_in_executor(None, self._background_load)
        return self._inflight

    def _background_load(self) -> None:
        try:
            self.load()
        except Exception as exc:  # the old set stays in force; the next request retries
            log.warning("could not reload revoked sessions: %s", type(exc).__name__)
            self._loaded = time.monotonic()
