"""API keys for bots: shown once, stored as SHA-256, looked up by that hash.

Keys carry 256 bits of randomness, so a fast hash is the right tool (a password hash would only
slow every API call); the lookup by hash leaks nothing an attacker can use, and the final
comparison is constant-time anyway.

A key may be scoped: to the owners that start with a prefix (a bot serving Telegram chats gets
``tg:``), and to reading (list connections, read tokens; no connect links, no disconnecting).
Outside its prefix a connection is as absent to the key as one that does not exist.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from authgate.errors import Forbidden, InvalidRequest, NotFound, Unauthorized
from authgate.secret_values import digest, equal_in_constant_time, new_secret
from authgate.store.models import ApiKey

PREFIX = "agk_"
# A key checked within this many seconds is not looked up again (the token API's hot path);
# a revocation made by another process takes effect within it.
CACHE_SECONDS = 5.0
# A key used since its last check is checked again this long before that check lapses
# (``due_for_renewal``, ``renew``), so that a busy bot's requests never all miss at once; the
# bound above stays: an entry is never served later than CACHE_SECONDS after its check.
RENEW_AHEAD = 2.0
# While the database does not answer, a key this process checked this recently still passes:
# bots keep getting the tokens held in memory. Nobody can revoke a key during the outage (that
# is a database write), so what this admits is a revocation made in the last minute before it.
STALE_IF_DATABASE_DOWN = 60.0
# "Last used" is written at most this often per key: a minute is as precise as anyone reads it,
# and a busy bot then costs one small UPDATE a minute, never one per request.
LAST_USED_RESOLUTION = timedelta(minutes=1)


@dataclass(frozen=True)
class ApiKeyView:
    id: int
    name: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None
    owner_prefix: str | None = None
    read_only: bool = False

    def may_see(self, owner: str) -> bool:
        """Whether the connections of ``owner`` are within this key's scope."""
        return self.owner_prefix is None or owner.startswith(self.owner_prefix)

    def require_owner(self, provider: str, owner: str) -> None:
        """``NotFound``, worded like a missing connection, for an owner outside the scope."""
        if not self.may_see(owner):
            raise NotFound(f"no {provider} connection for owner {owner!r}")

    def require_write(self) -> None:
        if self.read_only:
            raise Forbidden("this API key is read-only: it may list connections and read "
                            "tokens, nothing else", error="read_only_key")


def _view(row: ApiKey) -> ApiKeyView:
    return ApiKeyView(id=row.id, name=row.name, prefix=row.prefix, created_at=row.created_at,
                      last_used_at=row.last_used_at, revoked_at=row.revoked_at,
                      owner_prefix=row.owner_prefix, read_only=bool(row.read_only))


def check_owner_prefix(prefix: str | None) -> str | None:
    """A scope's owner prefix, None for every owner; ``InvalidRequest`` when it could match no
    owner a bot may use (owners are 1-200 characters of letters, digits and . _ : @ + -)."""
    if prefix is None or prefix == "":
        return None
    if len(prefix) > 200 or prefix.startswith("_") or not all(
            ch.isascii() and (ch.isalnum() or ch in "._:@+-") for ch in prefix):
        raise InvalidRequest("an owner prefix is up to 200 characters of letters, digits and "
                             ". _ : @ + - (not starting with _)", error="invalid_owner_prefix")
    return prefix


class ApiKeys:
    def __init__(self, db: sessionmaker[Session]) -> None:
        self._db = db
        self._recent: dict[str, tuple[ApiKeyView, float]] = {}
        # Hashes of the keys served from ``_recent`` since their last check.
        self._used: set[str] = set()

    def cached(self, presented: str | None, *, stale: float = 0.0) -> ApiKeyView | None:
        """A key that passed ``authenticate`` moments ago (up to ``stale`` seconds more),
        without a database round trip."""
        if not presented:
            return None
        hashed = digest(presented)
        hit = self._recent.get(hashed)
        if hit is None or hit[1] + stale < time.monotonic():
            return None
        self._used.add(hashed)
        return hit[0]

    def due_for_renewal(self, within: float = RENEW_AHEAD) -> list[str]:
        """The keys (by hash) used since their last check whose check lapses within ``within``
        seconds; taken off the used set (call from the thread that calls ``cached``)."""
        now = time.monotonic()
        due = [hashed for hashed in self._used
               if (hit := self._recent.get(hashed)) is not None and hit[1] - now <= within]
        self._used.difference_update(due)
        return due

    def renew(self, hashes: list[str], *, now: datetime) -> None:
        """Check again the keys of ``due_for_renewal`` against the database (blocking: one
        query): a key still valid is kept another CACHE_SECONDS from before that query and
        its use noted as ``authenticate`` notes it; a revoked or deleted one is dropped at once."""
        checked = time.monotonic()
        with self._db() as s:
            views = {row.key_hash: _view(row) for row in s.scalars(
                select(ApiKey).where(ApiKey.key_hash.in_(hashes), ApiKey.revoked_at.is_(None)))}
        for hashed in hashes:
            view = views.get(hashed)
            if view is None:
                self._recent.pop(hashed, None)
                continue
            self._note_use(view, now)
            self._recent[hashed] = (view, checked + CACHE_SECONDS)

    def create(self, name: str, *, now: datetime, owner_prefix: str | None = None,
               read_only: bool = False) -> tuple[str, ApiKeyView]:
        owner_prefix = check_owner_prefix(owner_prefix)
        key = PREFIX + new_secret()
        with self._db.begin() as s:
            row = ApiKey(name=name, prefix=key[:10], key_hash=digest(key), created_at=now,
                         owner_prefix=owner_prefix, read_only=read_only)
            s.add(row)
            s.flush()
            return key, _view(row)

    def list_keys(self) -> list[ApiKeyView]:
        with self._db() as s:
            return [_view(r) for r in s.scalars(select(ApiKey).order_by(ApiKey.id))]

    def _note_use(self, view: ApiKeyView, now: datetime) -> None:
        """Write "last used" when the stored one is a minute old or more."""
        if view.last_used_at is not None and now - view.last_used_at < LAST_USED_RESOLUTION:
            return
        # Conditional, so that workers racing on the same key write it once.
        with self._db.begin() as s:
            s.execute(update(ApiKey).where(
                ApiKey.id == view.id, (ApiKey.last_used_at.is_(None))
                | (ApiKey.last_used_at <= now - LAST_USED_RESOLUTION)).values(last_used_at=now))

    def revoke(self, key_id: int, *, now: datetime) -> None:
        with self._db.begin() as s:
            result = s.execute(update(ApiKey).where(ApiKey.id == key_id,
                                                    ApiKey.revoked_at.is_(None))
                               .values(revoked_at=now))
            if not result.rowcount:  # type: ignore[attr-defined]
                raise NotFound(f"no active API key with id {key_id}")
        self._recent.clear()

    def authenticate(self, presented: str | None, *, now: datetime | None = None) -> ApiKeyView:
        """Check a key against the database (the cache's miss path); with ``now``, also note
        that the key was used, when the stored time is a minute old or more."""
        if not presented:
            raise Unauthorized("an API key is required: Authorization: Bearer <key>")
        hashed = digest(presented)
        with self._db() as s:
            row = s.scalar(select(ApiKey).where(ApiKey.key_hash == hashed))
            if (row is None or not equal_in_constant_time(row.key_hash, hashed)
                    or row.revoked_at is not None):
                raise Unauthorized("the API key is not valid", error="invalid_api_key")
            view = _view(row)
        if now is not None:
            self._note_use(view, now)
        if len(self._recent) > 10_000:
            self._recent.clear()
        self._recent[hashed] = (view, time.monotonic() + CACHE_SECONDS)
        return view
