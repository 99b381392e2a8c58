"""The outbox table: publishing inside a change's transaction, claiming, finishing, resending.

Claims are safe across replicas: on PostgreSQL the candidates are locked with
``FOR UPDATE SKIP LOCKED`` (replicas pass each other instead of waiting), and on every database
the lease is taken with a conditional UPDATE under a fresh claim token, so a row goes to exactly
one claimer until its lease runs out. Only the head of each ordering queue is a candidate.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Integer, Select, Update, bindparam, exists, func, or_, select, update
from sqlalchemy.orm import Session, aliased, sessionmaker

from authgate.errors import NotFound
from authgate.outbox.message import DeliveryResult, Event, Message, Router
from authgate.outbox.policy import RETRY_WINDOW, next_attempt_at
from authgate.store.models import OutboxMessage

PENDING, DELIVERED, DEAD = "pending", "delivered", "dead"
ANSWER_MAX = 300


@dataclass(frozen=True)
class DeliveryRecord:
    """A message as the delivery log shows it."""

    message_id: str
    channel: str
    destination: str
    event_type: str
    ordering_key: str
    state: str
    attempts: int
    created_at: datetime
    next_attempt_at: datetime
    last_attempt_at: datetime | None
    last_answer: str | None
    delivered_at: datetime | None

    @classmethod
    def of(cls, row: OutboxMessage) -> DeliveryRecord:
        return cls(message_id=row.message_id, channel=row.channel, destination=row.destination,
                   event_type=row.event_type, ordering_key=row.ordering_key, state=row.state,
                   attempts=row.attempts, created_at=row.created_at,
                   next_attempt_at=row.next_attempt_at, last_attempt_at=row.last_attempt_at,
                   last_answer=row.last_answer, delivered_at=row.delivered_at)


def new_message_id() -> str:
    return "msg_" + secrets.token_hex(12)


class Outbox:
    def __init__(self, db: sessionmaker[Session], routers: Sequence[Router] = ()) -> None:
        self._db = db
        self.routers = list(routers)

    # -- writing, inside the caller's transaction ------------------------------------------
    def publish(self, s: Session, event: Event) -> int:
        """Add one message per recipient to the caller's transaction; returns how many."""
        count = 0
        for router in self.routers:
            for recipient in router.recipients(s, event):
                self.enqueue_one(s, event, recipient.channel, recipient.destination)
                count += 1
        return count

    # -- the worker -------------------------------------------------------------------------
    def claim(self, *, now: datetime, lease: timedelta, limit: int,
              claimer: str) -> list[Message]:
        """Due messages, each the oldest unfinished one of its queue, leased to ``claimer``."""
        token = secrets.token_hex(16)
        with self._db.begin() as s:
            seqs = list(s.scalars(_CLAIM_CANDIDATES, {"now": now, "limit": limit}))
            if not seqs:
                return []
            s.execute(_CLAIM, {"now": now, "seqs": seqs, "lease_until": now + lease,
                               "claim_token": token, "claimed_by": claimer})
            rows = s.scalars(select(OutboxMessage).where(OutboxMessage.claim_token == token)
                             .order_by(OutboxMessage.seq))
            return [_message(r) for r in rows]

    def finish(self, message: Message, result: DeliveryResult, *, now: datetime,
               claimer: str) -> str:
        """Record one attempt; returns the message's new state."""
        with self._db.begin() as s:
            row = s.scalar(select(OutboxMessage)
                           .where(OutboxMessage.message_id == message.message_id)
                           .with_for_update())
            if row is None:
                return DEAD
            row.last_attempt_at, row.last_answer = now, result.answer[:ANSWER_MAX] or None
            row.lease_until, row.claim_token = None, None
            if result.kind == "delivered":
                row.state, row.delivered_at, row.delivered_by = DELIVERED, now, claimer
                row.attempts += 1
                return row.state
            row.attempts += 1
            retry_at = (None if result.kind == "failed" else
                        next_attempt_at(row.attempts, now=now, retry_until=row.retry_until,
                                        retry_after=result.retry_after))
            if retry_at is None:
                row.state = DEAD
            else:
                row.next_attempt_at = retry_at
            return row.state

    # -- the console and the CLI ------------------------------------------------------------
    def recent(self, *, limit: int = 100, channel: str | None = None,
               destination: str | None = None) -> list[DeliveryRecord]:
        query = select(OutboxMessage).order_by(OutboxMessage.seq.desc()).limit(limit)
        if channel:
            query = query.where(OutboxMessage.channel == channel)
        if destination:
            query = query.where(OutboxMessage.destination == destination)
        with self._db() as s:
            return [DeliveryRecord.of(r) for r in s.scalars(query)]

    def counts_by_destination(self, channel: str) -> dict[str, dict[str, int]]:
        """{destination: {state: messages}} for one channel."""
        out: dict[str, dict[str, int]] = {}
        with self._db() as s:
            for destination, state, n in s.execute(
                    select(OutboxMessage.destination, OutboxMessage.state, func.count())
                    .where(OutboxMessage.channel == channel)
                    .group_by(OutboxMessage.destination, OutboxMessage.state)):
                out.setdefault(destination, {})[state] = int(n)
        return out

    def resend(self, message_id: str, *, now: datetime) -> DeliveryRecord:
        """Deliver a message again (same id, so a receiver can still tell it is a repeat),
        with a fresh retry window."""
        with self._db.begin() as s:
            row = s.scalar(select(OutboxMessage).where(OutboxMessage.message_id == message_id)
                           .with_for_update())
            if row is None:
                raise NotFound(f"no delivery {message_id!r}", error="delivery_not_found")
            row.state, row.next_attempt_at = PENDING, now
            row.retry_until = now + RETRY_WINDOW
            row.lease_until, row.claim_token, row.delivered_at = None, None, None
            s.flush()
            return DeliveryRecord.of(row)

    def enqueue_one(self, s: Session, event: Event, channel: str, destination: str) -> str:
        """One message for one recipient (``webhooks test``); returns its id."""
        message_id = new_message_id()
        s.add(OutboxMessage(
            message_id=message_id, channel=channel, destination=destination,
            ordering_key=event.ordering_key, event_type=event.type, body=event.body(),
            state=PENDING, attempts=0, created_at=event.at, next_attempt_at=event.at,
            retry_until=event.at + RETRY_WINDOW))
        return message_id

    def state_of(self, message_id: str) -> DeliveryRecord | None:
        with self._db() as s:
            row = s.scalar(select(OutboxMessage).where(OutboxMessage.message_id == message_id))
            return DeliveryRecord.of(row) if row else None


def _message(row: OutboxMessage) -> Message:
    return Message(message_id=row.message_id, channel=row.channel, destination=row.destination,
                   ordering_key=row.ordering_key, event_type=row.event_type, body=row.body,
                   attempts=row.attempts, created_at=row.created_at)




def _claim_statements() -> tuple[Select[int], Update]:
    """``Outbox.claim``'s two statements, built once: the worker polls every half second on
    every replica, and building them (an alias, its columns adapted) cost more CPU than running
    them. Bound: ``now``, ``limit``; the UPDATE's ``seqs``, ``lease_until``, ``claim_token``,
    ``claimed_by``."""
    now = bindparam("now", type_=OutboxMessage.next_attempt_at.type)
    earlier = aliased(OutboxMessage)
    blocked = exists().where(
        earlier.channel == OutboxMessage.channel,
        earlier.destination == OutboxMessage.destination,
        earlier.ordering_key == OutboxMessage.ordering_key,
        earlier.state == PENDING, earlier.seq < OutboxMessage.seq)
    free = or_(OutboxMessage.lease_until.is_(None), OutboxMessage.lease_until < now)
    candidates = (select(OutboxMessage.seq)
                  .where(OutboxMessage.state == PENDING, OutboxMessage.next_attempt_at <= now,
                         free, ~blocked)
                  .order_by(OutboxMessage.next_attempt_at, OutboxMessage.seq)
                  .limit(bindparam("limit", type_=Integer))
                  .with_for_update(skip_locked=True, of=OutboxMessage))
    claim = (update(OutboxMessage)
             .where(OutboxMessage.seq.in_(bindparam("seqs", expanding=True)),
                    OutboxMessage.state == PENDING, free)
             .values(lease_until=bindparam("lease_until"), claim_token=bindparam("claim_token"),
                     claimed_by=bindparam("claimed_by"))
             .execution_options(synchronize_session=False))
    return candidates, claim


_CLAIM_CANDIDATES, _CLAIM = _claim_statements()
