"""The vault: fresh tokens on demand, refreshes by each provider's rules, one at a time.

Concurrency, from the inside out:
* in one process, concurrent requests for one connection share one refresh (``Refresher``'s
  single flight) and one database read (``Vault._reads``);
* across processes, the database claim in ``ConnectionStore.claim_refresh`` lets one win; the
  others wait for its result instead of sending the refresh token a second time;
* the new pair is committed before any caller sees it, in the transaction that drops the old one;
* a single-use refresh token (hh.ru) is only ever sent by the claim holder, once per claim; after
  an answer-less failure (network, timeout, 5xx) a later claim sends it again, since only the
  provider knows whether it was spent; "token not expired" means it was not consumed, so the
  claim is released to retry after expiry, without counting a failed attempt.

Serving lives here; writing token pairs (connecting, refreshing) in ``vault.refresh``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

import anyio
import httpx

from authgate.clock import Clock
from authgate.config import VaultSettings
from authgate.errors import NeedsReauth, NotFound, ProviderUnavailable
from authgate.protocol.refresh_policy import is_usable, may_refresh_now
from authgate.protocol.rfc6749_oauth2 import TokenResponse
from authgate.providers.base import Account, Provider
from authgate.providers.registry import Providers
from authgate.singleflight import SingleFlight
from authgate.vault.connections import NEEDS_REAUTH, ConnectionStore, ConnectionView
from authgate.vault.journal import PairJournal
from authgate.vault.records import APPLICATION_OWNER as APPLICATION_OWNER
from authgate.vault.records import MIN_VALIDITY as MIN_VALIDITY
from authgate.vault.refresh import Refresher, RefreshOutcome, pending_view

log = logging.getLogger("authgate.vault")

# On-demand refreshes retry transient failures this many times before giving up for the request.
ON_DEMAND_ATTEMPTS = 3
ON_DEMAND_MAX_WAIT = 5.0
# A bot's request gets its answer within this (bots' HTTP clients give up after 10-30 s): past it,
# 503 with Retry-After while the refresh goes on and stores its pair for the next request.
ON_DEMAND_DEADLINE = 5.0
STILL_REFRESHING_RETRY_AFTER = 2
# Issued tokens are served from memory this long (if they stay valid past it); every change
# this process makes to a connection drops its entry at once.
TOKEN_CACHE_SECONDS = 5.0
# A token in memory that was read since it was kept is read again this long before it lapses
# (``renew_remembered``), so that a busy connection's readers do not all miss it at once.
RENEW_AHEAD = timedelta(seconds=2)
# A token the API refuses right after a refresh is not stale: no second refresh that soon.
MIN_FORCED_REFRESH_INTERVAL = timedelta(seconds=30)


@dataclass(frozen=True)
class IssuedToken:
    access_token: str
    token_type: str
    expires_at: datetime | None


class Vault:
    def __init__(self, store: ConnectionStore, providers: Mapping[str, Provider],
                 http: httpx.AsyncClient, clock: Clock, settings: VaultSettings, *,
                 journal: PairJournal) -> None:
        """``providers``: every configured one; the vault keeps those it can connect."""
        self.store = store
        self.providers = Providers(p for p in providers.values() if p.can_connect)
        self.http = http
        self.clock = clock
        self.settings = settings
        self.refresher = Refresher(store, self.providers, http, clock, settings,
                                   journal=journal, on_change=self.forget)
        self._reads: SingleFlight[tuple[str, str], IssuedToken] = SingleFlight()
        self._application: SingleFlight[str, IssuedToken] = SingleFlight()
        self._issued: dict[tuple[str, str], tuple[IssuedToken, datetime]] = {}
        # The entries of ``_issued`` served since they were kept (``renew_remembered``).
        self._read_since: set[tuple[str, str]] = set()

    @property
    def lease(self) -> timedelta:
        """How long a refresh claim holds before it is presumed dead (its process crashed)."""
        return self.refresher.lease

    def provider(self, name: str) -> Provider:
        try:
            return self.providers[name]
        except KeyError:
            raise NotFound(f"no API provider named {name!r} is configured") from None

    # -- connecting -------------------------------------------------------------------------
    async def store_new_connection(self, provider: Provider, owner: str,
                                   tokens: TokenResponse, account: Account,
                                   extras: Mapping[str, str] | None = None) -> ConnectionView:
        """``extras``: what the provider wants back on refresh (``Provider.connection_extras``)."""
        conn = await self.refresher.store_new(provider, owner, tokens, account, extras)
        log.info("connection stored provider=%s owner=%s account=%s", provider.name, owner,
                 account.id)
        return conn

    async def refresh(self, conn: ConnectionView, *, on_demand: bool = False) -> RefreshOutcome:
        """Refresh one connection now if its provider's rule allows; see ``RefreshOutcome``."""
        return await self.refresher.refresh(conn, on_demand=on_demand)

    # -- serving ----------------------------------------------------------------------------
    async def token(self, provider_name: str, owner: str) -> IssuedToken:
        """A token valid now, refreshing it first if the provider's rule allows and it is due."""
        provider = self.provider(provider_name)
        if owner == APPLICATION_OWNER:
            return await self.application_token(provider)
        remembered = self.remembered(provider_name, owner)
        if remembered is not None:
            return remembered
        return await self._read(provider, owner)

    async def _read(self, provider: Provider, owner: str) -> IssuedToken:
        """``token``'s way past the memory: the store (or the journal), kept when it may be."""
        provider_name, key = provider.name, (provider.name, owner)
        pending = self.refresher.journal.get(provider_name, owner)
        if pending is not None:  # refreshed while the database was away: the newest pair
            view = pending_view(pending)
            if not self._needs_refresh(provider, view, self.clock.now()):
                return IssuedToken(pending.tokens.access_token, view.token_type, view.expires_at)
        # Concurrent misses for one connection share one database read (and one refresh).
        try:
            with anyio.fail_after(ON_DEMAND_DEADLINE):
                issued = await self._reads.run(key, lambda: self._token(provider, owner))
        except TimeoutError:
            raise ProviderUnavailable(
                f"{provider.display_name} is slow to refresh this token; try again shortly",
                retry_after=STILL_REFRESHING_RETRY_AFTER) from None
        now = self.clock.now()
        keep_until = now + timedelta(seconds=TOKEN_CACHE_SECONDS)
        if issued.expires_at is None or issued.expires_at > keep_until + MIN_VALIDITY:
            self._issued[(provider_name, owner)] = (issued, keep_until)
        return issued

    def remembered(self, provider_name: str, owner: str) -> IssuedToken | None:
        """The token ``token`` gave out moments ago and keeps in memory, if still kept."""
        key = (provider_name, owner)
        hit = self._issued.get(key)
        if hit is None or self.clock.now() >= hit[1]:
            return None
        self._read_since.add(key)
        return hit[0]

    async def renew_remembered(self) -> None:
        """Read again the tokens in memory that were served since they were kept and lapse
        within ``RENEW_AHEAD``: as ``token`` would on a miss (the store, a refresh when due), but
        before the miss, so a busy connection is never read by all its waiting readers at once.
        A failure leaves the entry to lapse; the next read's full way reports it."""
        now = self.clock.now()
        due = [key for key in self._read_since
               if (hit := self._issued.get(key)) is not None and hit[1] - now <= RENEW_AHEAD]
        for provider_name, owner in due:
            self._read_since.discard((provider_name, owner))
            provider = self.providers.get(provider_name)
            if provider is None:
                continue
            try:
                await self._read(provider, owner)
            except Exception as exc:  # the entry lapses; the next read's full way answers
                log.debug("token in memory not renewed provider=%s owner=%s: %s",
                          provider_name, owner, type(exc).__name__)

    async def token_after_refusal(self, provider_name: str, owner: str,
                                  refused: str) -> IssuedToken | None:
        """The provider's API refused ``refused`` as stale: a different token valid now, or
        None when there is none to try. Refreshes only as the provider's rule allows (hh.ru:
        once the token has expired, never earlier), and not again when another caller already
        has: a newer token in the store is simply handed out."""
        self.forget(provider_name, owner)
        current = await self.token(provider_name, owner)
        if current.access_token != refused or owner == APPLICATION_OWNER:
            return current if current.access_token != refused else None
        conn = await anyio.to_thread.run_sync(self.store.get, provider_name, owner)
        if conn is None:
            raise NotFound(f"no {provider_name} connection for owner {owner!r}")
        now = self.clock.now()
        if (conn.last_refresh_at is not None
                and now - conn.last_refresh_at < MIN_FORCED_REFRESH_INTERVAL):
            return None  # refreshed moments ago, and refused anyway: not a matter of freshness
        outcome = await self.refresh(conn, on_demand=True)
        if outcome.kind == "needs_reauth":
            raise NeedsReauth(outcome.detail or "the connection must be authorized again")
        if not outcome.refreshed:
            return None
        self.forget(provider_name, owner)
        current = await self.token(provider_name, owner)
        return current if current.access_token != refused else None

    def forget(self, provider_name: str, owner: str) -> None:
        """Drop a cached token after anything changed the connection."""
        self._issued.pop((provider_name, owner), None)
        self._read_since.discard((provider_name, owner))

    async def disconnect(self, provider_name: str, owner: str) -> bool:
        self.forget(provider_name, owner)
        now = self.clock.now()
        return await anyio.to_thread.run_sync(
            lambda: self.store.delete(provider_name, owner, now=now))

    async def _token(self, provider: Provider, owner: str) -> IssuedToken:
        conn, secrets = await anyio.to_thread.run_sync(
            self.store.get_with_secrets, provider.name, owner)
        access_token = secrets.access_token
        retry_after: float | None = None
        for _ in range(ON_DEMAND_ATTEMPTS):
            if conn.status == NEEDS_REAUTH:
                raise NeedsReauth(conn.last_error or "the connection must be authorized again")
            if not self._needs_refresh(provider, conn, self.clock.now()):
                return IssuedToken(access_token, conn.token_type, conn.expires_at)
            outcome = await self.refresh(conn, on_demand=True)
            if outcome.kind == "needs_reauth":
                raise NeedsReauth(outcome.detail or "the connection must be authorized again")
            if outcome.kind == "gone":
                raise NotFound(f"no {provider.name} connection for owner {owner!r}")
            if outcome.access_token is not None:  # refreshed here: the new pair is in hand
                conn, access_token = outcome.connection, outcome.access_token
                continue
            if outcome.too_early:
                # The provider itself says the stored token has not expired: it is valid, until
                # about when we ask again.
                return IssuedToken(access_token, conn.token_type,
                                   outcome.connection.next_refresh_at or conn.expires_at)
            if outcome.kind == "retry_later":
                log.warning("on-demand refresh failed provider=%s owner=%s error=%s",
                            provider.name, owner, outcome.error)
                retry_after = outcome.retry_after
                if retry_after is not None and retry_after > ON_DEMAND_MAX_WAIT:
                    break  # the provider asked for more patience than a bot has
                await anyio.sleep(retry_after if retry_after is not None else 0.5)
            # Refreshed by another process, or not at all: the database has the current pair.
            conn, secrets = await anyio.to_thread.run_sync(
                self.store.get_with_secrets, provider.name, owner)
            access_token = secrets.access_token
        if conn.status == NEEDS_REAUTH:
            raise NeedsReauth(conn.last_error or "the connection must be authorized again")
        if conn.expires_at is None or conn.expires_at > self.clock.now():
            return IssuedToken(access_token, conn.token_type, conn.expires_at)
        raise ProviderUnavailable(
            f"{provider.display_name} is not answering and the stored token has expired",
            retry_after=max(retry_after or 0, 30))

    def _needs_refresh(self, provider: Provider, conn: ConnectionView, now: datetime) -> bool:
        if conn.next_refresh_at is None:  # no refresh token, or one that never expires
            return False
        rule = provider.refresh_rule
        if rule == "after_expiry":
            return may_refresh_now(rule, expires_at=conn.expires_at, now=now)
        return not is_usable(conn.expires_at, now, min_validity=MIN_VALIDITY)

    # -- the application token --------------------------------------------------------------
    async def application_token(self, provider: Provider) -> IssuedToken:
        """A client_credentials token (hh.ru's), asked for once and kept, since asking again
        revokes the previous one (which other processes may still be using)."""
        if not provider.has_application_token:
            raise NotFound(f"{provider.display_name} has no application token")
        existing = await anyio.to_thread.run_sync(self.store.get, provider.name, APPLICATION_OWNER)
        if existing is None:
            return await self._application.run(
                provider.name, lambda: self._fetch_application_token(provider))
        conn, secrets = await anyio.to_thread.run_sync(
            self.store.get_with_secrets, provider.name, APPLICATION_OWNER)
        return IssuedToken(secrets.access_token, conn.token_type, conn.expires_at)

    async def _fetch_application_token(self, provider: Provider) -> IssuedToken:
        tokens = await provider.application_token(self.http)
        # An application token does not expire, whatever expires_in might say.
        tokens = TokenResponse(access_token=tokens.access_token, token_type=tokens.token_type)
        conn = await self.store_new_connection(
            provider, APPLICATION_OWNER, tokens, Account(id=None, name="application"))
        return IssuedToken(tokens.access_token, conn.token_type, conn.expires_at)
