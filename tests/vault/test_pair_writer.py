"""Group commit of new pairs, on a real SQLite store: refreshes that finish together share one
transaction, each still gets its own answer, and a failed transaction fails each of its callers
(who then keep their pairs in the journal)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

import anyio
import pytest
from sqlalchemy import text

from authgate.errors import NotFound
from authgate.keyring import Keyring
from authgate.outbox.store import Outbox
from authgate.protocol.rfc6749_oauth2 import TokenResponse
from authgate.providers.base import Account
from authgate.store.db import make_engine, make_sessionmaker, migrate
from authgate.vault.connections import Claim, ConnectionStore, NewPair
from authgate.vault.pair_writer import MAX_BATCH, PairWriter

T = TypeVar("T")
T0 = datetime(2026, 1, 1, tzinfo=UTC)
LEASE = timedelta(seconds=10)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[ConnectionStore]:
    engine = make_engine(f"sqlite:///{tmp_path / 'pairs.db'}")
    migrate(engine)
    db = make_sessionmaker(engine)
    yield ConnectionStore(db, Keyring(tmp_path / "keyring.json"), Outbox(db))
    engine.dispose()


class CountedWrites:
    """Runs each store call in a worker thread, as the refresher does, noting each call (one
    transaction) and how many pairs it answered; ``gate`` holds calls until it is set."""

    def __init__(self) -> None:
        self.attempts = 0
        self.calls: list[int] = []  # the pairs answered by each call that returned
        self.gate = threading.Event()
        self.gate.set()

    async def __call__(self, fn: Callable[[], list[T]]) -> list[T]:
        self.attempts += 1
        answers = await anyio.to_thread.run_sync(self._run, fn)
        self.calls.append(len(answers))
        return answers

    def _run(self, fn: Callable[[], list[T]]) -> list[T]:
        self.gate.wait(10)
        return fn()


def claimed(store: ConnectionStore, count: int) -> list[Claim]:
    for n in range(count):
        store.save_tokens("hh", f"o{n}", TokenResponse(access_token=f"a{n}", refresh_token=f"r{n}",
                                                       expires_in=60),
                          Account(id=str(n), name=None), now=T0 - timedelta(seconds=120),
                          next_refresh_at=T0 - timedelta(seconds=60))
    return store.claim_due(T0, holder="me", lease=LEASE, limit=count)


def new_pair(claim: Claim, n: int) -> NewPair:
    return NewPair(claim.conn, TokenResponse(access_token=f"new-a{n}", refresh_token=f"new-r{n}",
                                             expires_in=60),
                   T0, T0 + timedelta(seconds=50))


def test_pairs_finishing_during_a_write_share_the_next_transaction(store):
    claims = claimed(store, 10)
    writes = CountedWrites()
    writer = PairWriter(store, writes)

    async def main() -> list[object]:
        writes.gate.clear()  # the first write stays open while the others finish
        async with anyio.create_task_group() as tg:
            results: list[object] = [None] * len(claims)

            async def one(n: int) -> None:
                results[n] = await writer.complete(new_pair(claims[n], n))

            tg.start_soon(one, 0)
            while not writes.attempts:
                await anyio.sleep(0.001)
            for n in range(1, len(claims)):
                tg.start_soon(one, n)
            await anyio.sleep(0.05)
            writes.gate.set()
        return results

    results = asyncio.run(main())
    assert writes.calls == [1, 9]  # a lone first pair at once; the nine behind it together
    for n, view in enumerate(results):
        assert view is not None and view.owner == f"o{n}"  # type: ignore[attr-defined]
        conn, secrets = store.get_with_secrets("hh", f"o{n}")
        assert secrets.access_token == f"new-a{n}" and secrets.refresh_token == f"new-r{n}"
        assert conn.generation == claims[n].conn.generation + 1 and conn.claimed_by is None


def test_a_batch_is_bounded(store):
    count = MAX_BATCH + 6
    claims = claimed(store, count)
    writes = CountedWrites()
    writer = PairWriter(store, writes)

    async def main() -> None:
        async with anyio.create_task_group() as tg:
            for n, claim in enumerate(claims):
                tg.start_soon(writer.complete, new_pair(claim, n))

    asyncio.run(main())
    assert sum(writes.calls) == count and max(writes.calls) == MAX_BATCH


def test_each_caller_gets_its_own_answer(store):
    claims = claimed(store, 3)
    # o1 was refreshed by someone else meanwhile (superseded); o2 was removed.
    store.complete_refresh(claims[1].conn, TokenResponse(access_token="other", expires_in=60),
                           now=T0, next_refresh_at=None)
    store.delete("hh", "o2", now=T0)
    writer = PairWriter(store, CountedWrites())

    async def main() -> list[object]:
        outcomes: list[object] = [None] * 3

        async def one(n: int) -> None:
            try:
                outcomes[n] = await writer.complete(new_pair(claims[n], n))
            except NotFound as exc:
                outcomes[n] = exc

        async with anyio.create_task_group() as tg:
            for n in range(3):
                tg.start_soon(one, n)
        return outcomes

    stored, superseded, removed = asyncio.run(main())
    assert stored is not None and stored.owner == "o0"  # type: ignore[attr-defined]
    assert superseded is None
    assert isinstance(removed, NotFound)
    assert store.get_with_secrets("hh", "o1")[1].access_token == "other"


def test_a_failed_transaction_fails_every_caller_in_it_and_writes_nothing(store):
    claims = claimed(store, 4)
    # The database refuses the third UPDATE of the batch, after two have gone through.
    with store._db.begin() as s:
        s.execute(text("CREATE TRIGGER refuse BEFORE UPDATE ON connections "
                       "WHEN NEW.owner = 'o2' BEGIN SELECT RAISE(ABORT, 'refused'); END"))
    writes = CountedWrites()
    writer = PairWriter(store, writes)

    async def main() -> list[BaseException | None]:
        errors: list[BaseException | None] = [None] * 4
        writes.gate.clear()

        async def one(n: int) -> None:
            try:
                await writer.complete(new_pair(claims[n], n))
            except Exception as exc:
                errors[n] = exc

        async with anyio.create_task_group() as tg:
            for n in range(4):
                tg.start_soon(one, n)
            await anyio.sleep(0.05)
            writes.gate.set()
        return errors

    errors = asyncio.run(main())
    assert writes.attempts == 1 and writes.calls == []
    assert all(e is not None and "refused" in str(e) for e in errors), errors
    for n, claim in enumerate(claims):
        conn, secrets = store.get_with_secrets("hh", f"o{n}")
        assert secrets.access_token == f"a{n}" and conn.generation == claim.conn.generation
