"""The outbox table on a real (SQLite) database: publishing in the change's transaction, claims
that go to one claimer, order per queue, leases, finishing and resending."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from authgate.outbox.message import DeliveryResult, Event, Recipient
from authgate.outbox.store import DEAD, DELIVERED, PENDING, Outbox
from authgate.store.db import make_engine, make_sessionmaker, migrate
from authgate.store.models import User

T0 = datetime(2026, 12, 1, tzinfo=UTC)
LEASE = timedelta(seconds=60)


class Everyone:
    """Routes every event to two destinations of a channel named "test"."""

    def recipients(self, s: Session, event: Event) -> Iterable[Recipient]:
        return [Recipient("test", "a"), Recipient("test", "b")]


@pytest.fixture
def db(tmp_path: Path) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(f"sqlite:///{tmp_path / 'o.db'}")
    migrate(engine)
    yield make_sessionmaker(engine)
    engine.dispose()


def _event(key: str, n: int, at: datetime = T0) -> Event:
    return Event("user.created", {"n": n}, ordering_key=key, at=at)


def test_publish_is_part_of_the_callers_transaction(db: sessionmaker[Session]) -> None:
    outbox = Outbox(db, routers=[Everyone()])
    with pytest.raises(RuntimeError), db.begin() as s:
        s.add(User(username="x", role="user", disabled=False, attributes={}, created_at=T0,
                   updated_at=T0))
        assert outbox.publish(s, _event("k", 1)) == 2
        raise RuntimeError("the change fails")
    assert outbox.claim(now=T0, lease=LEASE, limit=10, claimer="r1") == []
    with db.begin() as s:
        outbox.publish(s, _event("k", 1))
    assert len(outbox.claim(now=T0, lease=LEASE, limit=10, claimer="r1")) == 2


def test_only_the_head_of_each_queue_is_claimed_and_only_once(
        db: sessionmaker[Session]) -> None:
    outbox = Outbox(db, routers=[Everyone()])
    with db.begin() as s:
        for n in range(3):
            outbox.publish(s, _event("k1", n))
        outbox.publish(s, _event("k2", 9))
    first = outbox.claim(now=T0, lease=LEASE, limit=100, claimer="r1")
    assert sorted((m.destination, m.ordering_key, m.payload["data"]["n"]) for m in first) == [
        ("a", "k1", 0), ("a", "k2", 9), ("b", "k1", 0), ("b", "k2", 9)]
    assert outbox.claim(now=T0, lease=LEASE, limit=100, claimer="r2") == []  # leased
    head = next(m for m in first if m.destination == "a" and m.ordering_key == "k1")
    assert outbox.finish(head, DeliveryResult.retry("HTTP 500"), now=T0, claimer="r1") == PENDING
    # A retried head still holds its queue back until it is due again.
    assert outbox.claim(now=T0, lease=LEASE, limit=100, claimer="r2") == []
    later = T0 + timedelta(seconds=10)
    [again] = outbox.claim(now=later, lease=LEASE, limit=100, claimer="r2")
    assert again.message_id == head.message_id and again.attempts == 1
    assert outbox.finish(again, DeliveryResult.delivered("HTTP 200"), now=later,
                         claimer="r2") == DELIVERED
    [second] = outbox.claim(now=later, lease=LEASE, limit=100, claimer="r2")
    assert (second.destination, second.payload["data"]["n"]) == ("a", 1)
    assert outbox.finish(second, DeliveryResult.failed("gone"), now=later,
                         claimer="r2") == DEAD
    [third] = outbox.claim(now=later, lease=LEASE, limit=100, claimer="r2")
    assert third.payload["data"]["n"] == 2  # a dead message no longer holds its queue


def test_an_expired_lease_is_claimed_again_and_resend_starts_over(
        db: sessionmaker[Session]) -> None:
    outbox = Outbox(db, routers=[Everyone()])
    with db.begin() as s:
        outbox.publish(s, _event("k", 1))
    claimed = outbox.claim(now=T0, lease=LEASE, limit=1, claimer="dead replica")
    retaken = outbox.claim(now=T0 + LEASE + timedelta(seconds=1), lease=LEASE, limit=10,
                           claimer="r2")
    assert claimed[0].message_id in {m.message_id for m in retaken}
    for m in retaken:
        outbox.finish(m, DeliveryResult.delivered(), now=T0 + LEASE, claimer="r2")
    record = outbox.resend(claimed[0].message_id, now=T0 + timedelta(days=2))
    assert record.state == PENDING
    [again] = outbox.claim(now=T0 + timedelta(days=2), lease=LEASE, limit=10, claimer="r3")
    assert again.message_id == claimed[0].message_id  # the same webhook-id


def test_a_message_dies_after_the_retry_window(db: sessionmaker[Session]) -> None:
    outbox = Outbox(db, routers=[Everyone()])
    with db.begin() as s:
        outbox.publish(s, _event("k", 1))
    late = T0 + timedelta(hours=24)
    for m in outbox.claim(now=late, lease=LEASE, limit=10, claimer="r1"):
        assert outbox.finish(m, DeliveryResult.retry("timeout"), now=late, claimer="r1") == DEAD
