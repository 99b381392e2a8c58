"""Connections in the database: tokens encrypted with the keyring, refreshes claimed atomically.

A refresh is *claimed* with one conditional UPDATE that sets ``refresh_started_at`` (committed
before the refresh token leaves the process). That makes one refresher win across threads and
processes, and leaves a mark if the process dies mid-flight: the claim then goes stale after
``lease`` and the engine may look at the connection again.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import and_, delete, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from authgate.errors import NotFound
from authgate.keyring import Keyring
from authgate.outbox import events
from authgate.outbox.store import Outbox
from authgate.protocol.rfc6749_oauth2 import TokenResponse
from authgate.providers.base import Account
from authgate.store.models import Connection

# Re-exported: the vault's modules name the statuses from here.
from authgate.vault.records import ACTIVE as ACTIVE
from authgate.vault.records import NEEDS_REAUTH as NEEDS_REAUTH
from authgate.vault.records import secret_aad


@dataclass(frozen=True)
class ConnectionView:
    """A connection without its secrets."""

    id: int
    provider: str
    owner: str
    account_id: str | None
    account_name: str | None
    status: str
    token_type: str
    expires_at: datetime | None
    next_refresh_at: datetime | None
    last_refresh_at: datetime | None
    refresh_started_at: datetime | None
    attempts: int
    last_error: str | None
    generation: int
    created_at: datetime
    # Provider values sent back on refresh (VK ID's device_id); not secrets, never listed.
    extras: Mapping[str, str] = field(default_factory=dict, repr=False)

    @classmethod
    def of(cls, row: Connection) -> ConnectionView:
        return cls(
            id=row.id, provider=row.provider, owner=row.owner, account_id=row.account_id,
            account_name=row.account_name, status=row.status, token_type=row.token_type,
            expires_at=row.expires_at, next_refresh_at=row.next_refresh_at,
            last_refresh_at=row.last_refresh_at, refresh_started_at=row.refresh_started_at,
            attempts=row.attempts, last_error=row.last_error, generation=row.generation,
            created_at=row.created_at, extras=dict(row.extras or {}),
        )


@dataclass(frozen=True)
class Secrets:
    access_token: str
    refresh_token: str | None


class ConnectionStore:
    """Every change that a bot may want to hear about also writes its event to the outbox
    (``outbox``), in the same transaction."""

    def __init__(self, db: sessionmaker[Session], keyring: Keyring,
                 outbox: Outbox | None = None) -> None:
        self._db = db
        self._keyring = keyring
        self._outbox = outbox or Outbox(db)

    @property
    def single_writer(self) -> bool:
        """SQLite: one write transaction at a time for the whole database."""
        bind = self._db.kw.get("bind")
        return bind is not None and bind.dialect.name == "sqlite"

    # -- reading ----------------------------------------------------------------------------
    def get(self, provider: str, owner: str) -> ConnectionView | None:
        with self._db() as s:
            row = s.scalar(select(Connection).where(Connection.provider == provider,
                                                    Connection.owner == owner))
            return ConnectionView.of(row) if row else None

    def get_with_secrets(self, provider: str, owner: str) -> tuple[ConnectionView, Secrets]:
        with self._db() as s:
            row = s.scalar(select(Connection).where(Connection.provider == provider,
                                                    Connection.owner == owner))
            if row is None:
                raise NotFound(f"no {provider} connection for owner {owner!r}")
            return ConnectionView.of(row), self._decrypt(row)

    def list_connections(self, provider: str | None = None) -> list[ConnectionView]:
        query = select(Connection).order_by(Connection.provider, Connection.owner)
        if provider:
            query = query.where(Connection.provider == provider)
        with self._db() as s:
            return [ConnectionView.of(r) for r in s.scalars(query)]

    def page(self, *, limit: int, after: tuple[str, str] | None = None,
             provider: str | None = None, status: str | None = None,
             owner_prefixes: tuple[str, ...] = ()) -> list[ConnectionView]:
        """Up to ``limit`` connections in (provider, owner) order, after the key ``after``;
        an owner must start with every one of ``owner_prefixes``."""
        query = select(Connection).order_by(Connection.provider, Connection.owner).limit(limit)
        if after is not None:
            query = query.where(or_(Connection.provider > after[0],
                                    and_(Connection.provider == after[0],
                                         Connection.owner > after[1])))
        if provider:
            query = query.where(Connection.provider == provider)
        if status:
            query = query.where(Connection.status == status)
        for prefix in owner_prefixes:
            query = query.where(Connection.owner.startswith(prefix, autoescape=True))
        with self._db() as s:
            return [ConnectionView.of(r) for r in s.scalars(query)]

    def due(self, now: datetime, *, lease: timedelta, limit: int) -> list[ConnectionView]:
        """Active connections whose refresh time has come and that nobody is refreshing."""
        query = (
            select(Connection)
            .where(Connection.status == ACTIVE, Connection.next_refresh_at <= now,
                   or_(Connection.refresh_started_at.is_(None),
                       Connection.refresh_started_at < now - lease))
            .order_by(Connection.next_refresh_at).limit(limit)
        )
        with self._db() as s:
            return [ConnectionView.of(r) for r in s.scalars(query)]

    # -- writing ----------------------------------------------------------------------------
    def save_tokens(self, provider: str, owner: str, tokens: TokenResponse, account: Account,
                    *, now: datetime, next_refresh_at: datetime | None,
                    extras: Mapping[str, str] | None = None) -> ConnectionView:
        """Create the connection, or replace the tokens of an existing one (a re-connect);
        ``extras`` replace the old ones too."""
        with self._db.begin() as s:
            row = s.scalar(select(Connection).where(Connection.provider == provider,
                                                    Connection.owner == owner)
                           .with_for_update())
            reconnected = row is not None
            if row is None:
                row = Connection(provider=provider, owner=owner, created_at=now, generation=0,
                                 attempts=0)
                s.add(row)
            row.account_id, row.account_name = account.id, account.name
            row.extras = dict(extras) if extras else None
            self._apply_tokens(row, tokens, now=now, next_refresh_at=next_refresh_at)
            row.generation = (row.generation or 0) + 1
            s.flush()
            self._publish(s, events.CONNECTION_CREATED, row, now, reconnected=reconnected)
            return ConnectionView.of(row)

    def claim_refresh(self, conn: ConnectionView, *, now: datetime,
                      lease: timedelta) -> Secrets | None:
        """Claim the refresh; the winner gets the tokens it needs, in the same transaction."""
        with self._db.begin() as s:
            result = s.execute(
                update(Connection)
                .where(Connection.id == conn.id, Connection.generation == conn.generation,
                       Connection.status == ACTIVE,
                       or_(Connection.refresh_started_at.is_(None),
                           Connection.refresh_started_at < now - lease))
                .values(refresh_started_at=now)
            )
            if not result.rowcount:  # type: ignore[attr-defined]
                return None
            row = s.get(Connection, conn.id)
            return self._decrypt(row) if row is not None else None

    def complete_refresh(self, conn: ConnectionView, tokens: TokenResponse, *, now: datetime,
                         next_refresh_at: datetime | None) -> ConnectionView:
        """Store the new pair in one transaction; the old refresh token is gone with it."""
        with self._db.begin() as s:
            row = s.get(Connection, conn.id, with_for_update=True)
            if row is None:
                raise NotFound("the connection was removed while it was being refreshed")
            previous_refresh = self._decrypt(row).refresh_token
            if tokens.refresh_token is None and previous_refresh is not None:
                # RFC 6749 §6: no new refresh token means the old one stays valid.
                tokens = TokenResponse(**{**tokens.__dict__, "refresh_token": previous_refresh})
            self._apply_tokens(row, tokens, now=now, next_refresh_at=next_refresh_at)
            row.last_refresh_at = now
            row.generation += 1
            s.flush()
            self._publish(s, events.CONNECTION_REFRESHED, row, now)
            return ConnectionView.of(row)

    def release_claim(self, conn: ConnectionView, *, now: datetime, retry_at: datetime | None,
                      error: str | None, count_attempt: bool) -> ConnectionView | None:
        """Give the claim up without new tokens; None when the connection was removed."""
        with self._db.begin() as s:
            row = s.get(Connection, conn.id, with_for_update=True)
            if row is None:
                return None
            row.refresh_started_at = None
            if retry_at is not None:
                row.next_refresh_at = retry_at
            if count_attempt:
                row.attempts += 1
            row.last_error = error
            row.updated_at = now
            s.flush()
            return ConnectionView.of(row)

    def mark_needs_reauth(self, conn: ConnectionView, *, now: datetime,
                          reason: str) -> ConnectionView | None:
        """Stop refreshing until the owner connects again; None when the connection was removed."""
        with self._db.begin() as s:
            row = s.get(Connection, conn.id, with_for_update=True)
            if row is None:
                return None
            incident = row.status != NEEDS_REAUTH  # one event per incident, not per refusal
            row.status, row.refresh_started_at, row.next_refresh_at = NEEDS_REAUTH, None, None
            row.last_error, row.updated_at = reason, now
            s.flush()
            if incident:
                self._publish(s, events.CONNECTION_NEEDS_REAUTH, row, now, reason=reason)
            return ConnectionView.of(row)

    def delete(self, provider: str, owner: str, *, now: datetime) -> bool:
        with self._db.begin() as s:
            row = s.scalar(select(Connection).where(Connection.provider == provider,
                                                    Connection.owner == owner)
                           .with_for_update())
            if row is None:
                return False
            self._publish(s, events.CONNECTION_DELETED, row, now, status="deleted")
            s.execute(delete(Connection).where(Connection.id == row.id))
            return True

    def reencrypt_all(self, batch: int = 500) -> int:
        """Move every token to the keyring's current key; returns how many rows changed."""
        changed, last_id = 0, 0
        while True:
            with self._db.begin() as s:
                rows = list(s.scalars(select(Connection).where(Connection.id > last_id)
                                      .order_by(Connection.id).limit(batch).with_for_update()))
                if not rows:
                    return changed
                for row in rows:
                    before = (row.access_token_enc, row.refresh_token_enc)
                    row.access_token_enc = self._keyring.reencrypt(
                        row.access_token_enc, secret_aad(row.provider, row.owner, "access"))
                    if row.refresh_token_enc:
                        row.refresh_token_enc = self._keyring.reencrypt(
                            row.refresh_token_enc, secret_aad(row.provider, row.owner, "refresh"))
                    changed += before != (row.access_token_enc, row.refresh_token_enc)
                last_id = rows[-1].id

    # -- helpers ----------------------------------------------------------------------------
    def _publish(self, s: Session, event_type: str, row: Connection, now: datetime, *,
                 status: str | None = None, reason: str | None = None,
                 **extra: object) -> None:
        self._outbox.publish(s, events.connection_event(
            event_type, provider=row.provider, owner=row.owner, account=row.account_id,
            status=status or row.status, reason=reason, at=now, **extra))

    def _apply_tokens(self, row: Connection, tokens: TokenResponse, *, now: datetime,
                      next_refresh_at: datetime | None) -> None:
        row.access_token_enc = self._keyring.encrypt(
            tokens.access_token, secret_aad(row.provider, row.owner, "access"))
        row.refresh_token_enc = (
            self._keyring.encrypt(tokens.refresh_token,
                                  secret_aad(row.provider, row.owner, "refresh"))
            if tokens.refresh_token else None)
        row.token_type = tokens.token_type
        row.scope = tokens.scope
        row.expires_at = (now + timedelta(seconds=tokens.expires_in)
                          if tokens.expires_in is not None else None)
        row.next_refresh_at = next_refresh_at if row.refresh_token_enc else None
        row.status = ACTIVE
        row.refresh_started_at = None
        row.attempts = 0
        row.last_error = None
        row.updated_at = now

    def _decrypt(self, row: Connection) -> Secrets:
        return Secrets(
            access_token=self._keyring.decrypt(row.access_token_enc,
                                               secret_aad(row.provider, row.owner, "access")),
            refresh_token=(self._keyring.decrypt(row.refresh_token_enc,
                                                 secret_aad(row.provider, row.owner, "refresh"))
                           if row.refresh_token_enc else None),
        )
