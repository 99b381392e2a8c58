"""A provider's JSON Web Key Set (RFC 7517), cached, with OIDC Core §10.1.1 key rotation.

A token whose ``kid`` is not in the cached set triggers a refetch (the provider may have rotated),
but at most once per ``min_refetch_interval`` per JWKS URI: the ``kid`` comes from an unverified
header, so without the limit a stream of forged tokens would turn us into a load generator aimed at
the provider. The set is also refetched after ``max_age`` so a key the provider withdrew stops
being trusted even when no unknown ``kid`` ever shows up.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime

import httpx
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from authgate.clock import Clock
from authgate.errors import ProviderError
from authgate.protocol.http_json import get_json_object


@dataclass
class _Entry:
    keys: KeySet | None = None
    fetched_at: datetime | None = None  # last successful fetch
    attempted_at: datetime | None = None  # last fetch attempt, successful or not


class JwksCache:
    def __init__(self, http: httpx.AsyncClient, clock: Clock, min_refetch_interval: float = 30,
                 max_age: float = 3600) -> None:
        self._http = http
        self._clock = clock
        self._min_refetch_interval = min_refetch_interval
        self._max_age = max_age
        self._entries: dict[str, _Entry] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def key_set(self, jwks_uri: str, *, kid: str | None) -> KeySet:
        """The key set to verify a token whose header names ``kid``.

        The returned set may still lack ``kid`` (refetch not allowed yet, or the provider really
        has no such key); the verifier reports that as an unknown key.
        """
        entry = self._entries.setdefault(jwks_uri, _Entry())
        lock = self._locks.setdefault(jwks_uri, asyncio.Lock())
        # An unknown kid while a fetch is in flight waits for it: that fetch may be the very
        # rotation which brings the key.
        if (entry.keys is not None and not self._must_fetch(entry, kid)
                and (not lock.locked() or _has_kid(entry.keys, kid))):
            return entry.keys
        async with lock:
            # Re-decide: a concurrent caller may have fetched while this one waited.
            if entry.keys is None or self._must_fetch(entry, kid):
                entry.attempted_at = self._clock.now()
                entry.keys = await self._fetch(jwks_uri)
                entry.fetched_at = entry.attempted_at
            return entry.keys

    def _must_fetch(self, entry: _Entry, kid: str | None) -> bool:
        now = self._clock.now()
        if entry.fetched_at is None or (now - entry.fetched_at).total_seconds() >= self._max_age:
            return True
        if entry.keys is None or _has_kid(entry.keys, kid):
            return False
        # Unknown kid: refetch unless we (tried to) fetch too recently.
        return (entry.attempted_at is None
                or (now - entry.attempted_at).total_seconds() >= self._min_refetch_interval)

    async def _fetch(self, jwks_uri: str) -> KeySet:
        document = await get_json_object(self._http, jwks_uri, what="JWKS")
        try:
            # Keys of an unknown "kty" are skipped by joserfc (RFC 7517 §5); a set with no
            # usable key at all, or a malformed key, is an error.
            return KeySet.import_key_set({"keys": document["keys"]})
        except (JoseError, KeyError, TypeError, ValueError) as exc:
            raise ProviderError(f"the provider's JWKS is not a usable key set "
                                f"({type(exc).__name__})", transient=True,
                                error="provider_bad_jwks") from None


def _has_kid(keys: KeySet, kid: str | None) -> bool:
    return kid is None or any(key.kid == kid for key in keys)
