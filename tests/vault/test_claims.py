"""Refresh claims in the database itself, on SQLite and on PostgreSQL: who holds what, and what
a refresher that lost its claim can no longer do."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from authgate.errors import NotFound
from authgate.keyring import Keyring
from authgate.outbox.store import Outbox
from authgate.protocol.rfc6749_oauth2 import TokenResponse
from authgate.providers.base import Account
from authgate.store.db import make_engine, make_sessionmaker, migrate
from authgate.vault.connections import NEEDS_REAUTH, ConnectionStore
from tests.postgres import pg_bin, postgres_server

LEASE = timedelta(seconds=10)
T0 = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture(scope="module",
                params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
             ) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('claims') / 'claims.db'}"
        return
    if pg_bin() is None:
        pytest.skip("PostgreSQL is not installed")
    with postgres_server() as url:
        yield url.replace("postgresql://", "postgresql+psycopg://")


@pytest.fixture
def store(database: str, tmp_path: Path) -> Iterator[ConnectionStore]:
    engine = make_engine(database, pool_size=4)
    migrate(engine)
    from sqlalchemy import text

    with engine.begin() as conn:
        conn.execute(text("DELETE FROM connections"))
    db = make_sessionmaker(engine)
    yield ConnectionStore(db, Keyring(tmp_path / "keyring.json"), Outbox(db))
    engine.dispose()


def _seed(store: ConnectionStore, count: int) -> None:
    for n in range(count):
        store.save_tokens("hh", f"o{n}", TokenResponse(access_token=f"a{n}", refresh_token=f"r{n}",
                                                       expires_in=60),
                          Account(id=str(n), name=None), now=T0 - timedelta(seconds=120),
                          next_refresh_at=T0 - timedelta(seconds=60))


def test_holders_claim_disjoint_batches_and_a_dead_holders_lease_runs_out(store):
    _seed(store, 5)
    first = store.claim_due(T0, holder="a", lease=LEASE, limit=3)
    second = store.claim_due(T0, holder="b", lease=LEASE, limit=3)
    assert len(first) == 3 and len(second) == 2
    assert {c.conn.owner for c in first}.isdisjoint(c.conn.owner for c in second)
    assert {c.conn.claimed_by for c in first} == {"a"}
    assert not any(c.recovering for c in first)
    assert store.claim_due(T0, holder="c", lease=LEASE, limit=10) == []
    # "a" renews its leases, "b" is dead: only b's claims are free after the lease.
    assert store.renew_claims("a", now=T0 + LEASE / 2, lease=LEASE) == 3
    later = T0 + LEASE + timedelta(seconds=1)
    taken = store.claim_due(later, holder="c", lease=LEASE, limit=10)
    assert sorted(c.conn.owner for c in taken) == sorted(c.conn.owner for c in second)
    assert all(c.recovering for c in taken)  # the provider may have seen those tokens
    # The claim is c's now; the start it records is still the dead refresher's.
    assert {(c.conn.claimed_by, c.conn.claim_until, c.conn.refresh_started_at) for c in taken} \
        == {("c", later + LEASE, T0)}


def test_a_refresher_that_lost_its_claim_cannot_undo_the_new_holders_work(store):
    _seed(store, 1)
    [stale] = store.claim_due(T0, holder="a", lease=LEASE, limit=1)
    later = T0 + LEASE + timedelta(seconds=1)  # a's lease ran out while it was cut off
    [fresh] = store.claim_due(later, holder="b", lease=LEASE, limit=1)
    new_pair = TokenResponse(access_token="b-access", refresh_token="b-refresh", expires_in=60)
    done = store.complete_refresh(fresh.conn, new_pair, now=later, next_refresh_at=None)
    assert done is not None and done.generation == stale.conn.generation + 1
    # The stale holder's answer arrives: it neither overwrites, nor releases, nor gives up.
    late_pair = TokenResponse(access_token="a-access", refresh_token="a-refresh", expires_in=60)
    assert store.complete_refresh(stale.conn, late_pair, now=later, next_refresh_at=None) is None
    store.release_claim(stale.conn, now=later, retry_at=later, error="x", count_attempt=True)
    store.mark_needs_reauth(stale.conn, now=later, reason="already refreshed")
    conn, secrets = store.get_with_secrets("hh", "o0")
    assert (secrets.access_token, secrets.refresh_token) == ("b-access", "b-refresh")
    assert conn.status != NEEDS_REAUTH and conn.attempts == 0 and conn.last_error is None


def test_a_pair_the_provider_issued_is_kept_even_after_the_lease_ran_out(store):
    """Nobody stored a newer pair: the late answer is the only valid one, so it is stored."""
    _seed(store, 1)
    [stale] = store.claim_due(T0, holder="a", lease=LEASE, limit=1)
    later = T0 + LEASE + timedelta(seconds=1)
    [other] = store.claim_due(later, holder="b", lease=LEASE, limit=1)
    # b's provider call says the token was used already (by a): b marks the connection...
    store.mark_needs_reauth(other.conn, now=later, reason="already refreshed")
    pair = TokenResponse(access_token="a-access", refresh_token="a-refresh", expires_in=60)
    stored = store.complete_refresh(stale.conn, pair, now=later, next_refresh_at=None)
    # ...and a's pair, the one the provider issued, puts the connection right again.
    assert stored is not None and stored.status == "active"
    conn, secrets = store.get_with_secrets("hh", "o0")
    assert secrets.access_token == "a-access"
    assert conn == stored  # the view it answers is the row as it now is


def test_a_new_pair_clears_the_failures_and_the_claim_it_answers_as_stored(store):
    _seed(store, 1)
    [first] = store.claim_due(T0, holder="a", lease=LEASE, limit=1)
    store.release_claim(first.conn, now=T0, retry_at=T0, error="provider said 503",
                        count_attempt=True)
    [claim] = store.claim_due(T0, holder="b", lease=LEASE, limit=1)
    assert claim.conn.attempts == 1 and claim.conn.last_error == "provider said 503"
    done = store.complete_refresh(
        claim.conn, TokenResponse(access_token="n", refresh_token="m", expires_in=90,
                                  token_type="bearer"),
        now=T0 + timedelta(seconds=1), next_refresh_at=T0 + timedelta(seconds=91))
    assert done is not None
    assert (done.attempts, done.last_error, done.claimed_by, done.refresh_started_at) == (
        0, None, None, None)
    assert done == store.get("hh", "o0")


def test_a_pair_without_a_refresh_token_keeps_the_old_one_and_the_plan(store):
    """RFC 6749 §6 (Google never sends a new refresh token): the stored one stays, and so does
    the next refresh; the whole pair's state comes back from the one conditional write."""
    _seed(store, 1)
    [claim] = store.claim_due(T0, holder="a", lease=LEASE, limit=1)
    planned = T0 + timedelta(minutes=5)
    done = store.complete_refresh(claim.conn, TokenResponse(access_token="new", expires_in=600),
                                  now=T0, next_refresh_at=planned)
    assert done is not None and done.generation == claim.conn.generation + 1
    assert (done.next_refresh_at, done.last_refresh_at) == (planned, T0)
    assert done.expires_at == T0 + timedelta(seconds=600)
    assert done.claimed_by is None and done.claim_until is None and done.status == "active"
    conn, secrets = store.get_with_secrets("hh", "o0")
    assert (secrets.access_token, secrets.refresh_token) == ("new", "r0")
    assert conn == done


def test_a_refresh_of_a_removed_connection_says_so(store):
    _seed(store, 1)
    [claim] = store.claim_due(T0, holder="a", lease=LEASE, limit=1)
    assert store.delete("hh", "o0", now=T0)
    with pytest.raises(NotFound):
        store.complete_refresh(claim.conn, TokenResponse(access_token="x", refresh_token="y"),
                               now=T0, next_refresh_at=None)
