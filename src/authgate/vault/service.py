"""The vault: fresh tokens on demand, refreshes by each provider's rules, one at a time.

Concurrency, from the inside out:
* in one process, concurrent requests for one connection share one refresh (``_flights``);
* across processes, the database claim in ``ConnectionStore.claim_refresh`` lets one win; the
  others wait for its result instead of sending the refresh token a second time;
* the new pair is committed before any caller sees it, in the transaction that drops the old one.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

import anyio
import httpx

from authgate.clock import Clock
from authgate.config import VaultSettings
from authgate.errors import (
    NeedsReauth,
    NotFound,
    ProviderError,
    ProviderUnavailable,
    RefreshNotAllowed,
)
from authgate.metrics import REFRESHES
from authgate.protocol.refresh_policy import (
    backoff_delay,
    is_usable,
    may_refresh_now,
    next_refresh_at,
)
from authgate.protocol.rfc6749_oauth2 import TokenResponse
from authgate.providers.base import Account, Provider
from authgate.providers.registry import Providers
from authgate.singleflight import SingleFlight
from authgate.vault.connections import NEEDS_REAUTH, ConnectionStore, ConnectionView
from authgate.vault.export import EXPORT_OWNER, export_token

log = logging.getLogger("authgate.vault")
T = TypeVar("T")

# The owner under which a provider's application token (client_credentials) is kept.
APPLICATION_OWNER = "_application"
# Ahead-of-expiry providers: a token with less left than this is refreshed before it is handed out.
MIN_VALIDITY = timedelta(seconds=10)
# On-demand refreshes retry transient failures this many times before giving up for the request.
ON_DEMAND_ATTEMPTS = 3
ON_DEMAND_MAX_WAIT = 5.0
# Issued tokens are served from memory this long (if they stay valid past it); every change
# this process makes to a connection drops its entry at once.
TOKEN_CACHE_SECONDS = 5.0


@dataclass(frozen=True)
class IssuedToken:
    access_token: str
    token_type: str
    expires_at: datetime | None


class Vault:
    def __init__(self, store: ConnectionStore, providers: Mapping[str, Provider],
                 http: httpx.AsyncClient, clock: Clock, settings: VaultSettings) -> None:
        """``providers``: every configured one; the vault keeps those it can connect."""
        self.store = store
        self.providers = Providers(p for p in providers.values() if p.can_connect)
        self.http = http
        self.clock = clock
        self.settings = settings
        self._refreshes: SingleFlight[tuple[str, str], ConnectionView] = SingleFlight()
        self._reads: SingleFlight[tuple[str, str], IssuedToken] = SingleFlight()
        self._issued: dict[tuple[str, str], tuple[IssuedToken, datetime]] = {}
        self._semaphore = asyncio.Semaphore(settings.refresh_concurrency)
        # SQLite has one writer at a time, and a writer that finds the lock taken sleeps in
        # steps of up to 100 ms: queueing this process's writes here is much faster.
        self._write_lock = asyncio.Lock() if store.single_writer else None

    @property
    def lease(self) -> timedelta:
        """How long a refresh claim holds before it is presumed dead (its process crashed)."""
        return 2 * self.settings.http_timeout + timedelta(seconds=5)

    def provider(self, name: str) -> Provider:
        try:
            return self.providers[name]
        except KeyError:
            raise NotFound(f"no API provider named {name!r} is configured") from None

    async def _write(self, fn: Callable[[], T]) -> T:
        if self._write_lock is None:
            return await anyio.to_thread.run_sync(fn)
        async with self._write_lock:
            return await anyio.to_thread.run_sync(fn)

    # -- connecting -------------------------------------------------------------------------
    async def store_new_connection(self, provider: Provider, owner: str,
                                   tokens: TokenResponse, account: Account) -> ConnectionView:
        now = self.clock.now()
        self.forget(provider.name, owner)
        conn = await self._write(lambda: self.store.save_tokens(
            provider.name, owner, tokens, account, now=now,
            next_refresh_at=self._plan(provider, tokens, now)))
        await self._export(provider, conn, tokens.access_token)
        log.info("connection stored provider=%s owner=%s account=%s", provider.name, owner,
                 account.id)
        return conn

    # -- serving ----------------------------------------------------------------------------
    async def token(self, provider_name: str, owner: str) -> IssuedToken:
        """A token valid now, refreshing it first if the provider's rule allows and it is due."""
        provider = self.provider(provider_name)
        if owner == APPLICATION_OWNER:
            return await self.application_token(provider)
        key = (provider_name, owner)
        hit = self._issued.get(key)
        if hit is not None and self.clock.now() < hit[1]:
            return hit[0]
        # Concurrent misses for one connection share one database read (and one refresh).
        issued = await self._reads.run(key, lambda: self._token(provider, owner))
        now = self.clock.now()
        keep_until = now + timedelta(seconds=TOKEN_CACHE_SECONDS)
        if issued.expires_at is None or issued.expires_at > keep_until + MIN_VALIDITY:
            self._issued[(provider_name, owner)] = (issued, keep_until)
        return issued

    def forget(self, provider_name: str, owner: str) -> None:
        """Drop a cached token after anything changed the connection."""
        self._issued.pop((provider_name, owner), None)

    async def disconnect(self, provider_name: str, owner: str) -> bool:
        self.forget(provider_name, owner)
        return await anyio.to_thread.run_sync(self.store.delete, provider_name, owner)

    async def _token(self, provider: Provider, owner: str) -> IssuedToken:
        provider_name = provider.name
        conn, secrets = await anyio.to_thread.run_sync(
            self.store.get_with_secrets, provider_name, owner)
        for _ in range(ON_DEMAND_ATTEMPTS):
            if conn.status == NEEDS_REAUTH:
                raise NeedsReauth(conn.last_error or "the connection must be authorized again")
            now = self.clock.now()
            if not self._needs_refresh(provider, conn, now):
                return IssuedToken(secrets.access_token, conn.token_type, conn.expires_at)
            try:
                conn = await self.refresh(conn, on_demand=True)
            except ProviderError as exc:
                wait = min(ON_DEMAND_MAX_WAIT, exc.retry_after or 0.5)
                log.warning("on-demand refresh failed provider=%s owner=%s error=%s",
                            provider_name, owner, exc.error)
                await anyio.sleep(wait)
            conn, secrets = await anyio.to_thread.run_sync(
                self.store.get_with_secrets, provider_name, owner)
        if conn.status == NEEDS_REAUTH:
            raise NeedsReauth(conn.last_error or "the connection must be authorized again")
        if conn.expires_at is None or conn.expires_at > self.clock.now():
            return IssuedToken(secrets.access_token, conn.token_type, conn.expires_at)
        raise ProviderUnavailable(
            f"{provider.display_name} is not answering and the stored token has expired",
            retry_after=30)

    async def application_token(self, provider: Provider) -> IssuedToken:
        """A client_credentials token (hh.ru's), asked for once and kept, since asking again
        revokes the previous one (which other processes may still be using)."""
        if not provider.has_application_token:
            raise NotFound(f"{provider.display_name} has no application token")
        existing = await anyio.to_thread.run_sync(self.store.get, provider.name, APPLICATION_OWNER)
        if existing is None:
            await self._refreshes.run((provider.name, APPLICATION_OWNER),
                                      lambda: self._fetch_application_token(provider))
        conn, secrets = await anyio.to_thread.run_sync(
            self.store.get_with_secrets, provider.name, APPLICATION_OWNER)
        return IssuedToken(secrets.access_token, conn.token_type, conn.expires_at)

    async def _fetch_application_token(self, provider: Provider) -> ConnectionView:
        tokens = await provider.application_token(self.http)
        # An application token does not expire, whatever expires_in might say.
        tokens = TokenResponse(access_token=tokens.access_token, token_type=tokens.token_type)
        return await self.store_new_connection(
            provider, APPLICATION_OWNER, tokens, Account(id=None, name="application"))

    def _needs_refresh(self, provider: Provider, conn: ConnectionView,
                       now: datetime) -> bool:
        if conn.next_refresh_at is None:  # no refresh token, or one that never expires
            return False
        rule = provider.refresh_rule
        if rule == "after_expiry":
            return may_refresh_now(rule, expires_at=conn.expires_at, now=now)
        return not is_usable(conn.expires_at, now, min_validity=MIN_VALIDITY)

    # -- refreshing -------------------------------------------------------------------------
    async def refresh(self, conn: ConnectionView, *, on_demand: bool = False) -> ConnectionView:
        """Refresh one connection; callers for the same connection share one attempt."""
        return await self._refreshes.run(
            (conn.provider, conn.owner), lambda: self._refresh_once(conn, on_demand=on_demand))

    async def _refresh_once(self, conn: ConnectionView, *, on_demand: bool) -> ConnectionView:
        async with self._semaphore:
            try:
                return await self._refresh_claimed(conn, on_demand=on_demand)
            finally:
                self.forget(conn.provider, conn.owner)

    async def _refresh_claimed(self, conn: ConnectionView, *, on_demand: bool) -> ConnectionView:
        provider = self.provider(conn.provider)
        now = self.clock.now()
        if not may_refresh_now(provider.refresh_rule, expires_at=conn.expires_at, now=now):
            return conn
        # A claim left by a process that died mid-refresh: the provider may already have used
        # the refresh token. Sending it once more is the only way to find out; a single-use
        # provider then answers "already refreshed" and the connection needs its owner again.
        recovering = conn.refresh_started_at is not None
        secrets = await self._write(
            lambda: self.store.claim_refresh(conn, now=now, lease=self.lease))
        if secrets is None:
            # Another worker or process holds the claim (or the row changed): wait for it.
            return await self._await_other_refresher(conn)
        if secrets.refresh_token is None:
            await self._release(conn, retry_at=None, error=None, count=False)
            return conn
        try:
            tokens = await provider.refresh(self.http, secrets.refresh_token)
        except RefreshNotAllowed as exc:
            later = max((conn.expires_at or now) + timedelta(seconds=1),
                        self.clock.now() + timedelta(seconds=30))
            await self._release(conn, retry_at=later, error=exc.detail, count=False)
            REFRESHES.labels(conn.provider, "not_allowed").inc()
            raise ProviderError(exc.detail, transient=True, error=exc.error,
                                retry_after=(later - self.clock.now()).total_seconds()) from None
        except NeedsReauth as exc:
            reason = exc.detail
            if recovering:
                reason = ("a refresh was interrupted (authgate stopped) after the provider had "
                          f"used the refresh token; connect again ({exc.detail})")
            await self._mark_needs_reauth(conn, reason)
            raise NeedsReauth(reason) from None
        except ProviderError as exc:
            if not exc.transient:
                await self._mark_needs_reauth(conn, exc.detail)
                raise NeedsReauth(exc.detail) from None
            delay = max(exc.retry_after or 0.0, backoff_delay(conn.attempts + 1))
            await self._release(conn, retry_at=self.clock.now() + timedelta(seconds=delay),
                                error=exc.detail, count=True)
            REFRESHES.labels(conn.provider, "retry").inc()
            log.warning("refresh failed, will retry provider=%s owner=%s error=%s in=%.0fs",
                        conn.provider, conn.owner, exc.error, delay)
            raise
        done = self.clock.now()
        updated = await self._write(lambda: self.store.complete_refresh(
            conn, tokens, now=done, next_refresh_at=self._plan(provider, tokens, done)))
        REFRESHES.labels(conn.provider, "ok").inc()
        log.debug("refreshed provider=%s owner=%s on_demand=%s", conn.provider, conn.owner,
                  on_demand)
        await self._export(provider, updated, tokens.access_token)
        return updated

    async def _await_other_refresher(self, conn: ConnectionView) -> ConnectionView:
        # A real wait for another process, so real time (the injected clock may stand still).
        deadline = time.monotonic() + self.lease.total_seconds()
        while time.monotonic() < deadline:
            current = await anyio.to_thread.run_sync(self.store.get, conn.provider, conn.owner)
            if current is None:
                raise NotFound("the connection was removed")
            if current.refresh_started_at is None or current.generation != conn.generation:
                return current
            await anyio.sleep(0.05)
        return conn

    async def _mark_needs_reauth(self, conn: ConnectionView, reason: str) -> None:
        now = self.clock.now()
        await self._write(lambda: self.store.mark_needs_reauth(conn, now=now, reason=reason))
        REFRESHES.labels(conn.provider, "needs_reauth").inc()
        log.warning("connection needs re-authorization provider=%s owner=%s reason=%r",
                    conn.provider, conn.owner, reason)

    async def _release(self, conn: ConnectionView, *, retry_at: datetime | None,
                       error: str | None, count: bool) -> None:
        await self._write(lambda: self.store.release_claim(
            conn, now=self.clock.now(), retry_at=retry_at, error=error, count_attempt=count))

    def _plan(self, provider: Provider, tokens: TokenResponse,
              now: datetime) -> datetime | None:
        if not tokens.refresh_token:
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
