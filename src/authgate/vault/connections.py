"""Connections in the database: tokens encrypted with the keyring, refreshes claimed atomically.

A refresh is *claimed* (committed before the refresh token leaves the process): the claim sets
``refresh_started_at``, names its holder (``claimed_by``, one string per process) and holds until
``claim_until``, a short lease the holder renews while it works (``renew_claims``). That makes one
refresher win across threads, processes and replicas, and leaves a mark if the process dies
mid-flight: its lease then runs out within seconds and another refresher takes the claim over.

The engine claims due connections in batches (``claim_due``: ``FOR UPDATE SKIP LOCKED`` on
PostgreSQL, so that replicas polling together each get different rows instead of fighting over the
same ones); a bot's request claims its one connection (``claim_refresh``).

Every final write is conditional, so that a refresher that lost its claim (its lease ran out while
it was cut off) can never undo another's work: ``complete_refresh`` stores a pair only while the
connection is at the generation the refresh started from (a pair the provider just issued is kept
unless a newer one is stored already); ``release_claim`` and ``mark_needs_reauth`` change the row
only for the claim's holder, at that generation.

All times passed in are the database's (``authgate.store.db_clock``), never one replica's own.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Engine,
    Integer,
    Row,
    Select,
    String,
    Table,
    Update,
    and_,
    bindparam,
    case,
    delete,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Session, sessionmaker

from authgate.errors import NotFound
from authgate.keyring import Keyring
from authgate.outbox import events
from authgate.outbox.store import Outbox
from authgate.protocol.rfc6749_oauth2 import TokenResponse
from authgate.providers.base import Account
from authgate.store.driver_sql import DriverStatement
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
    claimed_by: str | None = None
    claim_until: datetime | None = None

    @classmethod
    def of(cls, row: Connection | Row[Any]) -> ConnectionView:
        """From an ORM row, or from a Core row of the ``connections`` table's columns."""
        return cls(
            id=row.id, provider=row.provider, owner=row.owner, account_id=row.account_id,
            account_name=row.account_name, status=row.status, token_type=row.token_type,
            expires_at=row.expires_at, next_refresh_at=row.next_refresh_at,
            last_refresh_at=row.last_refresh_at, refresh_started_at=row.refresh_started_at,
            attempts=row.attempts, last_error=row.last_error, generation=row.generation,
            created_at=row.created_at, extras=dict(row.extras or {}),
            claimed_by=row.claimed_by, claim_until=row.claim_until,
        )


@dataclass(frozen=True)
class NewPair:
    """A refresh's answer, to be stored over the pair ``conn`` (as claimed) holds."""

    conn: ConnectionView
    tokens: TokenResponse = field(repr=False)
    now: datetime
    next_refresh_at: datetime | None


@dataclass(frozen=True)
class Secrets:
    access_token: str
    refresh_token: str | None


@dataclass(frozen=True)
class Claim:
    """A refresh this process holds: the connection as claimed, and what it needs to send."""

    conn: ConnectionView
    secrets: Secrets
    # A claim was left by a refresher that died mid-refresh: the provider may have used the
    # refresh token already.
    recovering: bool


def _claim_free(now: datetime | BindParameter[datetime]) -> ColumnElement[bool]:
    """Nobody holds the claim: never taken, released, or its lease has run out."""
    return or_(Connection.claim_until.is_(None), Connection.claim_until < now)


class ConnectionStore:
    """Every change that a bot may want to hear about also writes its event to the outbox
    (``outbox``), in the same transaction. A reader that changes nothing (``doctor``) passes an
    outbox without routers."""

    def __init__(self, db: sessionmaker[Session], keyring: Keyring, outbox: Outbox) -> None:
        self._db = db
        self._keyring = keyring
        self._outbox = outbox
        self._engine: Engine = db.kw["bind"]

    @property
    def single_writer(self) -> bool:
        """SQLite: one write transaction at a time for the whole database."""
        return self._engine.dialect.name == "sqlite"

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

    def due(self, now: datetime, *, limit: int) -> list[ConnectionView]:
        """Active connections whose refresh time has come and that nobody is refreshing."""
        with self._db() as s:
            return [ConnectionView.of(r) for r in s.scalars(_due_query(now, limit))]

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

    def claim_due(self, now: datetime, *, holder: str, lease: timedelta,
                  limit: int) -> list[Claim]:
        """Claim up to ``limit`` due connections for ``holder``, with their secrets, in one
        transaction. Rows another transaction is claiming are skipped, not waited for."""
        until = now + lease
        with self._engine.begin() as db:
            # One statement for the batch, without a session: the engine's hot path.
            rows = _CLAIM_DUE.rows(db, {"now": now, "limit": limit, "holder": holder,
                                        "until": until})
            return [Claim(ConnectionView.of(row), self._decrypt(row),
                          recovering=row.refresh_started_at < now) for row in rows]

    def claim_refresh(self, conn: ConnectionView, *, now: datetime, holder: str,
                      lease: timedelta) -> Claim | None:
        """Claim one connection's refresh, if it is still at ``conn``'s generation and nobody
        holds it; the winner gets the tokens it needs, in the same transaction."""
        with self._db.begin() as s:
            result = s.execute(
                update(Connection)
                .where(Connection.id == conn.id, Connection.generation == conn.generation,
                       Connection.status == ACTIVE, _claim_free(now))
                .values(_claimed(now, holder, now + lease))
            )
            if not result.rowcount:  # type: ignore[attr-defined]
                return None
            row = s.get(Connection, conn.id)
            if row is None:
                return None
            return Claim(ConnectionView.of(row), self._decrypt(row),
                         recovering=conn.refresh_started_at is not None)

    def renew_claims(self, holder: str, *, now: datetime, lease: timedelta) -> int:
        """Extend the lease of every claim ``holder`` still holds; returns how many."""
        with self._db.begin() as s:
            result = s.execute(
                update(Connection)
                .where(Connection.claimed_by == holder, Connection.claim_until.is_not(None))
                .values(claim_until=now + lease))
            return int(result.rowcount)  # type: ignore[attr-defined]

    def complete_refresh(self, conn: ConnectionView, tokens: TokenResponse, *, now: datetime,
                         next_refresh_at: datetime | None) -> ConnectionView | None:
        """Store the new pair in one transaction; the old refresh token is gone with it.

        Only while the row is at ``conn``'s generation: None when a newer pair is stored already
        (this refresher's lease ran out and another one finished first). Raises NotFound when the
        connection was removed."""
        [stored] = self.complete_refreshes([NewPair(conn, tokens, now, next_refresh_at)])
        if isinstance(stored, NotFound):
            raise stored
        return stored

    def complete_refreshes(self, pairs: Sequence[NewPair],
                           ) -> list[ConnectionView | NotFound | None]:
        """``complete_refresh`` for several connections in one transaction (group commit):
        each pair's answer in order — the stored view, None (superseded) or NotFound (removed)."""
        results: dict[int, ConnectionView | NotFound | None] = {}
        with self._db.begin() as s:
            # Rows are locked in id order, so two replicas' batches never wait on each other in
            # a circle.
            for n, pair in sorted(enumerate(pairs), key=lambda item: item[1].conn.id):
                results[n] = self._complete_one(s, pair)
        return [results[n] for n in range(len(pairs))]

    def _complete_one(self, s: Session, pair: NewPair) -> ConnectionView | NotFound | None:
        conn = pair.conn
        params = {f"new_{name}": value for name, value in self._token_values(
            conn.provider, conn.owner, pair.tokens, now=pair.now).items()}
        # One conditional UPDATE (the generation check and the write in one statement), built
        # once: the refresh engine's hot path.
        rows = _COMPLETE_REFRESH[bool(pair.tokens.refresh_token)].rows(s.connection(), {
            **params, "conn_id": conn.id, "from_generation": conn.generation,
            "new_next_refresh_at": pair.next_refresh_at, "new_last_refresh_at": pair.now})
        if not rows:
            if s.scalar(select(TABLE.c.id).where(TABLE.c.id == conn.id)) is None:
                return NotFound("the connection was removed while it was being refreshed")
            return None
        # The row as the UPDATE left it, from what it wrote: only save_tokens changes the other
        # columns, and it moves the generation on, which this UPDATE was conditional on.
        updated = replace(conn, **_PAIR_RESET, token_type=params["new_token_type"],
                          expires_at=params["new_expires_at"],
                          next_refresh_at=rows[0].next_refresh_at, last_refresh_at=pair.now,
                          generation=conn.generation + 1)
        self._publish(s, events.CONNECTION_REFRESHED, updated, pair.now)
        return updated

    def release_claim(self, conn: ConnectionView, *, now: datetime, retry_at: datetime | None,
                      error: str | None, count_attempt: bool) -> ConnectionView | None:
        """Give the claim up without new tokens. None when the connection was removed; the row
        unchanged when the claim is no longer ``conn``'s (another refresher holds it now)."""
        with self._db.begin() as s:
            row = s.get(Connection, conn.id, with_for_update=True)
            if row is None:
                return None
            if not _holds(row, conn):
                return ConnectionView.of(row)
            row.refresh_started_at = row.claimed_by = row.claim_until = None
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
        """Stop refreshing until the owner connects again. None when the connection was removed;
        the row unchanged when the claim is no longer ``conn``'s (another refresher may have
        stored a good pair)."""
        with self._db.begin() as s:
            row = s.get(Connection, conn.id, with_for_update=True)
            if row is None:
                return None
            if not _holds(row, conn):
                return ConnectionView.of(row)
            incident = row.status != NEEDS_REAUTH  # one event per incident, not per refusal
            row.status, row.refresh_started_at, row.next_refresh_at = NEEDS_REAUTH, None, None
            row.claimed_by = row.claim_until = None
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
    def _publish(self, s: Session, event_type: str, row: Connection | ConnectionView,
                 now: datetime, *, status: str | None = None, reason: str | None = None,
                 **extra: object) -> None:
        self._outbox.publish(s, events.connection_event(
            event_type, provider=row.provider, owner=row.owner, account=row.account_id,
            status=status or row.status, reason=reason, at=now, **extra))

    def _token_values(self, provider: str, owner: str, tokens: TokenResponse, *,
                      now: datetime) -> dict[str, Any]:
        """The columns a new pair sets besides ``_PAIR_RESET`` (without ``next_refresh_at``;
        ``refresh_token_enc`` only when the pair has a refresh token)."""
        values: dict[str, Any] = {
            "access_token_enc": self._keyring.encrypt(
                tokens.access_token, secret_aad(provider, owner, "access")),
            "token_type": tokens.token_type, "scope": tokens.scope,
            "expires_at": (now + timedelta(seconds=tokens.expires_in)
                           if tokens.expires_in is not None else None),
            "updated_at": now}
        if tokens.refresh_token:
            values["refresh_token_enc"] = self._keyring.encrypt(
                tokens.refresh_token, secret_aad(provider, owner, "refresh"))
        return values

    def _apply_tokens(self, row: Connection, tokens: TokenResponse, *, now: datetime,
                      next_refresh_at: datetime | None) -> None:
        values = {**_PAIR_RESET, "refresh_token_enc": None,
                  **self._token_values(row.provider, row.owner, tokens, now=now)}
        for name, value in values.items():
            setattr(row, name, value)
        row.next_refresh_at = next_refresh_at if row.refresh_token_enc else None

    def _decrypt(self, row: Connection | Row[Any]) -> Secrets:
        return Secrets(
            access_token=self._keyring.decrypt(row.access_token_enc,
                                               secret_aad(row.provider, row.owner, "access")),
            refresh_token=(self._keyring.decrypt(row.refresh_token_enc,
                                                 secret_aad(row.provider, row.owner, "refresh"))
                           if row.refresh_token_enc else None),
        )


# The table itself, for the hot path's Core statements.
TABLE = cast(Table, Connection.__table__)

# What every new pair resets: the connection is active, unclaimed and without a failure.
_PAIR_RESET: Mapping[str, Any] = {"status": ACTIVE, "refresh_started_at": None,
                                  "claimed_by": None, "claim_until": None, "attempts": 0,
                                  "last_error": None}


def _complete_refresh_statement(new_refresh_token: bool) -> Update:
    """``complete_refresh``'s UPDATE … RETURNING, its values bound as ``new_<column>``. Without a
    new refresh token the old one stays (RFC 6749 §6: it is still valid), and so does the next
    refresh when there is one to use. It returns only ``next_refresh_at``, the one column it may
    or may not set; reading back the whole row cost more than the UPDATE."""
    c = TABLE.c
    names = ["access_token_enc", "token_type", "scope", "expires_at", "updated_at",
             "last_refresh_at", *(["refresh_token_enc"] if new_refresh_token else [])]
    values: dict[str, Any] = {n: bindparam(f"new_{n}", type_=c[n].type) for n in names}
    next_refresh = bindparam("new_next_refresh_at", type_=c.next_refresh_at.type)
    values["next_refresh_at"] = next_refresh if new_refresh_token else case(
        (c.refresh_token_enc.is_(None), None), else_=next_refresh)
    return (update(TABLE)
            .where(c.id == bindparam("conn_id"), c.generation == bindparam("from_generation"))
            .values(**values, **_PAIR_RESET, generation=c.generation + 1)
            .returning(c.next_refresh_at))


# Built once: a statement built per call costs more CPU than its round trip.
_COMPLETE_REFRESH = {new: DriverStatement(_complete_refresh_statement(new))
                     for new in (False, True)}


def _due_query(now: datetime | BindParameter[datetime], limit: int, *columns: Any
               ) -> Select[Any]:
    """Due connections, oldest first: ORM rows, or ``columns`` (Core rows) when given."""
    return (select(*columns or (Connection,))
            .where(Connection.status == ACTIVE, Connection.next_refresh_at <= now,
                   _claim_free(now))
            .order_by(Connection.next_refresh_at).limit(limit))


def _claim_due_statement() -> Update:
    """``claim_due``'s one statement, built once: the engine runs it for every batch, and every
    second when nothing is due, on each replica (building it cost more CPU than running it).
    It locks the due rows (skipping those another transaction is claiming), claims them and
    returns them as claimed. Bound: ``now``, ``limit``, ``holder``, ``until``."""
    now = bindparam("now", type_=TABLE.c.next_refresh_at.type)
    due = (_due_query(now, 0, TABLE.c.id).limit(bindparam("limit", type_=Integer))
           .with_for_update(skip_locked=True, of=TABLE))
    return (update(TABLE).where(TABLE.c.id.in_(due.scalar_subquery()))
            .values(_claimed(now, bindparam("holder", type_=String),
                             bindparam("until", type_=TABLE.c.claim_until.type)))
            .returning(*TABLE.c))


def _claimed(now: datetime | BindParameter[datetime], holder: str | BindParameter[str],
             until: datetime | BindParameter[datetime]) -> dict[str, Any]:
    """What a claim sets. ``refresh_started_at`` keeps the start of a refresh whose refresher
    died before it ended: a claim that finds it set (earlier than ``now``) is ``recovering``."""
    return {"refresh_started_at": func.coalesce(TABLE.c.refresh_started_at, now),
            "claimed_by": holder, "claim_until": until}


_CLAIM_DUE = DriverStatement(_claim_due_statement())


def _holds(row: Connection, conn: ConnectionView) -> bool:
    """Is the row still under the claim that ``conn`` (as claimed) records?"""
    return row.generation == conn.generation and row.claimed_by == conn.claimed_by
