"""Writing token pairs: a new connection's first, and every refresh after it.

``Refresher.refresh`` returns a ``RefreshOutcome`` for everything a provider (or another
process) can do to a refresh; exceptions are left for what no caller can plan for (the database
or the keyring failing). The guarantees it keeps are listed at the top of ``vault.service``.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import secrets as random_secrets
import socket
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Literal, TypeVar

import anyio
import httpx

from authgate.clock import Clock
from authgate.config import VaultSettings
from authgate.errors import AuthgateError, NotFound
from authgate.metrics import CLAIMS, REFRESHES
from authgate.protocol.refresh_policy import backoff_delay, may_refresh_now, next_refresh_at
from authgate.protocol.rfc6749_oauth2 import TokenResponse
from authgate.providers.base import Account, Provider, RefreshFailure
from authgate.singleflight import SingleFlight
from authgate.vault.connections import (
    NEEDS_REAUTH,
    Claim,
    ConnectionStore,
    ConnectionView,
    NewPair,
)
from authgate.vault.export import EXPORT_OWNER, export_token
from authgate.vault.journal import PairJournal, PendingPair
from authgate.vault.pair_writer import PairWriter

log = logging.getLogger("authgate.vault")
T = TypeVar("T")

# A claim holds this long unless its holder renews it; the holder renews every CLAIM_RENEW_EVERY
# while it works, so only a dead (or cut-off) holder's claim runs out, and is taken over then.
CLAIM_LEASE = timedelta(seconds=10)
CLAIM_RENEW_EVERY = 3.0


def holder_id() -> str:
    """This process among the replicas: host, pid and a nonce (pids repeat across restarts)."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{random_secrets.token_hex(4)}"

# * ``refreshed``: a new pair is stored (by this call, or by another process it waited for);
# * ``not_due``: the provider's rule does not allow a refresh now, or there is nothing to refresh;
# * ``retry_later``: no new pair this time; the engine tries again at ``next_refresh_at``;
# * ``needs_reauth``: the refresh token is dead; the owner must connect again;
# * ``gone``: the connection was removed meanwhile.
OutcomeKind = Literal["refreshed", "not_due", "retry_later", "needs_reauth", "gone"]


@dataclass(frozen=True)
class RefreshOutcome:
    kind: OutcomeKind
    # The connection as this outcome left it (as last seen, when ``gone``).
    connection: ConnectionView
    # The new access token, when this call stored it (not when another process did).
    access_token: str | None = field(default=None, repr=False)
    error: str | None = None  # a short code, for logs
    detail: str | None = None  # why, for people; never a secret
    # ``retry_later``: how long the provider asked us to wait (429 Retry-After; hh.ru's
    # "not expired": until the token's expiry), when it said.
    retry_after: float | None = None
    # ``retry_later`` because the provider refused a refresh yet (hh.ru's "token not expired"):
    # by the provider's own word, the stored token is valid.
    too_early: bool = False

    @property
    def refreshed(self) -> bool:
        return self.kind == "refreshed"


class Refresher:
    def __init__(self, store: ConnectionStore, providers: Mapping[str, Provider],
                 http: httpx.AsyncClient, clock: Clock, settings: VaultSettings, *,
                 journal: PairJournal, on_change: Callable[[str, str], None]) -> None:
        self.store = store
        self.journal = journal
        self.providers = providers
        self.http = http
        self.clock = clock
        self.settings = settings
        self._flights: SingleFlight[tuple[str, str], RefreshOutcome] = SingleFlight()
        # Two lanes: the engine's refreshes never queue a bot's request behind them.
        self._on_demand_slots = asyncio.Semaphore(settings.refresh_concurrency)
        self._engine_busy = 0
        self._engine_slot_freed = asyncio.Event()
        self.holder = holder_id()
        self._held = 0  # claims this process holds (their leases are renewed while > 0)
        self._renewing: asyncio.Task[None] | None = None
        # Connections whose provider asked us to wait (429/503 Retry-After): bots' requests do
        # not ask again before this (time.monotonic()).
        self._not_before: dict[tuple[str, str], float] = {}
        # SQLite has one writer at a time, and a writer that finds the lock taken sleeps in
        # steps of up to 100 ms: queueing this process's writes here is much faster.
        self._write_lock = asyncio.Lock() if store.single_writer else None
        # Refreshes that finish together are stored together, in one transaction.
        self._pairs = PairWriter(store, self._write)
        # Called with (provider, owner) whenever this process changes a connection.
        self._on_change = on_change

    @property
    def lease(self) -> timedelta:
        """How long a refresh claim holds unless its holder renews it."""
        return CLAIM_LEASE

    @property
    def engine_slots_free(self) -> int:
        return max(0, self.settings.refresh_concurrency - self._engine_busy)

    async def engine_slots(self, wanted: int, *, timeout: float) -> int:
        """Wait until ``wanted`` engine slots are free (or ``timeout``); how many are."""
        with anyio.move_on_after(timeout):
            while self.engine_slots_free < wanted:
                self._engine_slot_freed.clear()
                await self._engine_slot_freed.wait()
        return self.engine_slots_free

    async def _write(self, fn: Callable[[], T]) -> T:
        if self._write_lock is None:
            return await anyio.to_thread.run_sync(fn)
        async with self._write_lock:
            return await anyio.to_thread.run_sync(fn)

    # -- a new pair -------------------------------------------------------------------------
    async def store_new(self, provider: Provider, owner: str, tokens: TokenResponse,
                        account: Account, extras: Mapping[str, str] | None = None,
                        ) -> ConnectionView:
        """Create the connection, or replace an existing one's tokens (a re-connect)."""
        now = self.clock.now()
        self._on_change(provider.name, owner)
        conn = await self._write(lambda: self.store.save_tokens(
            provider.name, owner, tokens, account, now=now,
            next_refresh_at=self._plan(provider, tokens, now), extras=extras))
        await self._export(provider, conn, tokens.access_token)
        return conn

    # -- refreshing -------------------------------------------------------------------------
    async def refresh(self, conn: ConnectionView, *, on_demand: bool = False) -> RefreshOutcome:
        """Refresh one connection; callers for the same connection share one attempt."""
        return await self._flights.run(
            (conn.provider, conn.owner), lambda: self._refresh_once(conn, on_demand=on_demand))

    async def claim_due(self, limit: int) -> list[Claim]:
        """Claim up to ``limit`` due connections for this process, each taking one of the
        engine lane's slots until ``refresh_claimed`` is done with it."""
        now = self.clock.now()
        claims = await self._write(lambda: self.store.claim_due(
            now, holder=self.holder, lease=self.lease, limit=limit))
        if claims:
            CLAIMS.labels("won").inc(len(claims))
            self._hold(len(claims))
            self._engine_busy += len(claims)
        return claims

    async def refresh_claimed(self, claim: Claim) -> RefreshOutcome:
        """Refresh a connection ``claim_due`` claimed (frees its engine slot when done)."""
        key = (claim.conn.provider, claim.conn.owner)
        try:
            if self._flights.running(key):
                # A bot's request got here first and waits for this very claim: give it back
                # (its request claims the connection then). Never refreshed from here after an
                # await: by then the claim is no longer ours.
                await self._release(claim.conn, retry_at=None, error=None, count=False)
                self._unhold()
                return RefreshOutcome("not_due", claim.conn)
            return await self._flights.run(
                key, lambda: self._with_claim(claim, on_demand=False))
        finally:
            self._engine_busy -= 1
            self._engine_slot_freed.set()

    async def _refresh_once(self, conn: ConnectionView, *, on_demand: bool) -> RefreshOutcome:
        async with self._on_demand_slots:
            try:
                provider = self.providers.get(conn.provider)
                if provider is None:
                    return RefreshOutcome("retry_later", conn, error="not_found",
                                          detail=_no_provider(conn))
                now = self.clock.now()
                if not may_refresh_now(provider.refresh_rule, expires_at=conn.expires_at,
                                       now=now):
                    return RefreshOutcome("not_due", conn)
                wait = self._not_before.get((conn.provider, conn.owner), 0) - time.monotonic()
                if on_demand and wait > 0:
                    return RefreshOutcome("retry_later", conn, error="provider_asked_to_wait",
                                          detail=conn.last_error, retry_after=wait)
                claim = await self._write(lambda: self.store.claim_refresh(
                    conn, now=now, holder=self.holder, lease=self.lease))
                CLAIMS.labels("won" if claim else "lost").inc()
                if claim is None:
                    # Another worker or process holds the claim (or the row changed): wait.
                    return await self._await_other_refresher(conn)
                self._hold(1)
                return await self._with_claim(claim, on_demand=on_demand)
            finally:
                self._on_change(conn.provider, conn.owner)

    async def _with_claim(self, claim: Claim, *, on_demand: bool) -> RefreshOutcome:
        """Use a claim this process holds, and end it (whatever happens, it is no longer
        renewed afterwards)."""
        try:
            return await self._refresh_claimed(claim, on_demand=on_demand)
        finally:
            self._unhold()
            self._on_change(claim.conn.provider, claim.conn.owner)

    async def _refresh_claimed(self, claim: Claim, *, on_demand: bool) -> RefreshOutcome:
        conn = claim.conn
        provider = self.providers.get(conn.provider)
        if provider is None:
            released = await self._release(conn, retry_at=self.clock.now() + self.lease,
                                           error=_no_provider(conn), count=False)
            return RefreshOutcome("retry_later", released or conn, error="not_found",
                                  detail=_no_provider(conn))
        if not may_refresh_now(provider.refresh_rule, expires_at=conn.expires_at,
                               now=self.clock.now()):
            # Claimed as due, but the provider's rule says not yet: due again at expiry.
            released = await self._release(conn, retry_at=conn.expires_at, error=None,
                                           count=False)
            return RefreshOutcome("not_due", released) if released else _gone(conn)
        if claim.secrets.refresh_token is None:
            released = await self._release(conn, retry_at=None, error=None, count=False)
            return RefreshOutcome("not_due", released) if released else _gone(conn)
        # A claim left by a process that died mid-refresh: the provider may already have used
        # the refresh token. Sending it once more is the only way to find out; a single-use
        # provider then answers "already refreshed" and the connection needs its owner again.
        answer = await provider.refresh(self.http, claim.secrets.refresh_token,
                                       conn.extras)
        if isinstance(answer, RefreshFailure):
            return await self._failed(conn, answer, recovering=claim.recovering)
        done = self.clock.now()
        # An answer without a refresh token leaves the old one valid (RFC 6749 §6; Google never
        # sends a new one): the next refresh is planned all the same.
        planned = self._plan(provider, answer, done, has_refresh_token=True)
        try:
            updated = await self._pairs.complete(NewPair(conn, answer, done, planned))
        except NotFound:
            return _gone(conn)
        except AuthgateError:
            raise
        except Exception:
            # The provider has spent the old refresh token; the database did not take the new
            # pair. Keep it (served meanwhile) and write it once the database is back.
            pending = PendingPair(conn, answer, done, planned)
            self.journal.add(pending)
            return RefreshOutcome("refreshed", pending_view(pending),
                                  access_token=answer.access_token)
        if updated is None:
            # Our lease ran out while we waited and another refresher stored a newer pair.
            log.warning("refresh superseded provider=%s owner=%s: a newer pair is stored",
                        conn.provider, conn.owner)
            current = await anyio.to_thread.run_sync(self.store.get, conn.provider, conn.owner)
            return RefreshOutcome("refreshed", current) if current else _gone(conn)
        REFRESHES.labels(conn.provider, "ok").inc()
        self._not_before.pop((conn.provider, conn.owner), None)
        log.debug("refreshed provider=%s owner=%s on_demand=%s", conn.provider, conn.owner,
                  on_demand)
        await self._export(provider, updated, answer.access_token)
        return RefreshOutcome("refreshed", updated, access_token=answer.access_token)

    async def replay_journal(self) -> bool:
        """Write the kept pairs (oldest first); False when the database still does not answer.
        Each write is conditional like any other: a pair superseded meanwhile is dropped."""
        for pending in self.journal.pending():
            try:
                await self._write(functools.partial(
                    self.store.complete_refresh, pending.conn, pending.tokens,
                    now=pending.received_at, next_refresh_at=pending.next_refresh_at))
            except NotFound:
                pass
            except AuthgateError:
                raise
            except Exception:
                return False
            self.journal.remove(pending)
            self._on_change(pending.conn.provider, pending.conn.owner)
        return True

    # -- the claims' leases -----------------------------------------------------------------
    def _hold(self, count: int) -> None:
        self._held += count
        if self._renewing is None or self._renewing.done():
            self._renewing = asyncio.ensure_future(self._renew_leases())

    def _unhold(self) -> None:
        self._held -= 1

    async def _renew_leases(self) -> None:
        """Keep this process's claims alive while it holds any: one UPDATE for all of them."""
        failing = False
        while self._held > 0:
            await anyio.sleep(CLAIM_RENEW_EVERY)
            if self._held <= 0:
                return
            try:
                await self._write(lambda: self.store.renew_claims(
                    self.holder, now=self.clock.now(), lease=self.lease))
            except Exception as exc:  # the database is away: retried at the next beat
                if not failing:
                    log.warning("cannot renew refresh claims: %s", type(exc).__name__)
                failing = True
            else:
                if failing:
                    log.info("refresh claims renewed again")
                failing = False

    async def aclose(self) -> None:
        if self._renewing is not None:
            self._renewing.cancel()

    async def _failed(self, conn: ConnectionView, failure: RefreshFailure, *,
                      recovering: bool) -> RefreshOutcome:
        """Store what a refused refresh means: the one place a failure becomes an outcome."""
        if failure.verdict == "needs_reauth":
            reason = failure.detail
            if recovering:
                reason = ("a refresh was interrupted (the process doing it stopped or lost the "
                          "database) after the provider had used the refresh token; connect "
                          f"again ({failure.detail})")
            marked = await self._mark_needs_reauth(conn, reason)
            return (RefreshOutcome("needs_reauth", marked, error=failure.error, detail=reason)
                    if marked else _gone(conn))
        now = self.clock.now()
        if failure.verdict == "too_early":
            # Not consumed: ask again once the provider agrees the token has expired.
            retry_at = max((conn.expires_at or now) + timedelta(seconds=1),
                           now + timedelta(seconds=30))
            retry_after: float | None = (retry_at - now).total_seconds()
            released = await self._release(conn, retry_at=retry_at, error=failure.detail,
                                           count=False)
            REFRESHES.labels(conn.provider, "not_allowed").inc()
        else:
            delay = max(failure.retry_after or 0.0, backoff_delay(conn.attempts + 1))
            retry_after = failure.retry_after
            if retry_after:
                self._not_before[(conn.provider, conn.owner)] = time.monotonic() + retry_after
            released = await self._release(conn, retry_at=now + timedelta(seconds=delay),
                                           error=failure.detail, count=True)
            REFRESHES.labels(conn.provider, "retry").inc()
            log.warning("refresh failed, will retry provider=%s owner=%s error=%s in=%.0fs",
                        conn.provider, conn.owner, failure.error, delay)
        if released is None:
            return _gone(conn)
        return RefreshOutcome("retry_later", released, error=failure.error,
                              detail=failure.detail, retry_after=retry_after,
                              too_early=failure.verdict == "too_early")

    async def _await_other_refresher(self, conn: ConnectionView) -> RefreshOutcome:
        # A real wait for another process, so real time (the injected clock may stand still).
        # Its provider call may take http_timeout; a dead holder's lease runs out meanwhile.
        deadline = time.monotonic() + (self.settings.http_timeout + self.lease).total_seconds()
        while time.monotonic() < deadline:
            current = await anyio.to_thread.run_sync(self.store.get, conn.provider, conn.owner)
            if current is None:
                return _gone(conn)
            if current.status == NEEDS_REAUTH:
                return RefreshOutcome("needs_reauth", current, error="needs_reauth",
                                      detail=current.last_error)
            if current.generation != conn.generation:
                return RefreshOutcome("refreshed", current)
            if current.claimed_by is None:
                # The other refresher gave up without a new pair; the row says when to retry.
                return RefreshOutcome("retry_later", current, error="refresh_failed",
                                      detail=current.last_error)
            if current.claim_until is not None and current.claim_until < self.clock.now():
                # Its holder died: the caller's next attempt takes the claim over.
                return RefreshOutcome("retry_later", current, error="claim_expired")
            await anyio.sleep(0.1)  # each look is a read: at most ten a second
        return RefreshOutcome("retry_later", conn, error="refresh_in_progress",
                              detail="another process is still refreshing this connection")

    async def _mark_needs_reauth(self, conn: ConnectionView,
                                 reason: str) -> ConnectionView | None:
        now = self.clock.now()
        marked = await self._write(
            lambda: self.store.mark_needs_reauth(conn, now=now, reason=reason))
        REFRESHES.labels(conn.provider, "needs_reauth").inc()
        log.warning("connection needs re-authorization provider=%s owner=%s reason=%r",
                    conn.provider, conn.owner, reason)
        return marked

    async def _release(self, conn: ConnectionView, *, retry_at: datetime | None,
                       error: str | None, count: bool) -> ConnectionView | None:
        now = self.clock.now()
        return await self._write(lambda: self.store.release_claim(
            conn, now=now, retry_at=retry_at, error=error, count_attempt=count))

    # -- helpers ----------------------------------------------------------------------------
    def _plan(self, provider: Provider, tokens: TokenResponse, now: datetime, *,
              has_refresh_token: bool = False) -> datetime | None:
        if not (tokens.refresh_token or has_refresh_token):
            return None
        expires_at = now + timedelta(seconds=tokens.expires_in) if tokens.expires_in else None
        return next_refresh_at(provider.refresh_rule, expires_at=expires_at, issued_at=now,
                               ahead=self.settings.refresh_ahead,
                               jitter=self.settings.refresh_jitter)

    async def _export(self, provider: Provider, conn: ConnectionView,
                      access_token: str) -> None:
        path = provider.settings.export_file
        if path is None or conn.owner != EXPORT_OWNER:
            return
        now = self.clock.now()
        await anyio.to_thread.run_sync(lambda: export_token(
            path, access_token=access_token, token_type=conn.token_type,
            expires_at=conn.expires_at, now=now))


def pending_view(pending: PendingPair) -> ConnectionView:
    """The connection as it will be once ``pending`` is written."""
    expires_in = pending.tokens.expires_in
    return replace(pending.conn, generation=pending.conn.generation + 1,
                   expires_at=(pending.received_at + timedelta(seconds=expires_in)
                               if expires_in is not None else None),
                   next_refresh_at=pending.next_refresh_at, last_refresh_at=pending.received_at,
                   refresh_started_at=None, claimed_by=None, claim_until=None, attempts=0,
                   last_error=None)


def _no_provider(conn: ConnectionView) -> str:
    return f"no API provider named {conn.provider!r} is configured"


def _gone(conn: ConnectionView) -> RefreshOutcome:
    return RefreshOutcome("gone", conn, error="not_found", detail="the connection was removed")
