"""Several ``authgate serve`` replicas on one PostgreSQL database, against one hh.ru look-alike
that counts every rule a client breaks (a refresh before expiry, a refresh token used twice).

The replicas are real processes; time is the test's (``ClockFile``): the look-alike and the
database go by the "world" clock, and a replica with a skewed clock runs a constant distance off it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest

from authgate.vault.refresh import CLAIM_LEASE
from tests.harness import skip_unless_installed, wait_until
from tests.postgres import pg_bin, postgres_server
from tests.replicas import Cluster, claims, new_database

pytestmark = [pytest.mark.postgres, skip_unless_installed(pg_bin() is not None, "PostgreSQL")]

SKEW = 120.0  # seconds: the replica whose clock was two minutes off


@pytest.fixture(scope="module")
def pg_server() -> Iterator[str]:
    with postgres_server() as url:
        yield url


@pytest.fixture
def cluster(tmp_path: Path, pg_server: str) -> Iterator[Cluster]:
    with ExitStack() as cleanup:
        yield Cluster(tmp_path, cleanup, new_database(pg_server))


def test_three_replicas_share_the_work_without_a_double_refresh(cluster):
    first = cluster.replica(start=False)
    cluster.seed(24, expired=True)
    cluster.devidp.control("hh/latency", {"ms": 20})  # a provider that takes its time
    replicas = [first.start(), cluster.replica(), cluster.replica()]

    def all_refreshed() -> dict[str, int] | None:
        stats = cluster.devidp.hh_stats()
        return stats if stats["refreshes_ok"] >= 24 else None

    stats = wait_until(all_refreshed, "every connection refreshed", idle_bound=30)
    assert stats["refreshes_ok"] == 24
    assert stats["already_refreshed"] == 0  # no refresh token sent twice
    assert stats["token_not_expired"] == 0
    counted = [claims(r) for r in replicas]
    # Every claim won led to one refresh; batch claims skip what another replica holds, so none
    # is wasted.
    assert sum(c["won"] for c in counted) == 24, counted
    assert sum(c["lost"] for c in counted) == 0, counted


def test_a_replica_with_a_skewed_clock_refreshes_nothing_early_and_serves_nothing_expired(
        cluster):
    ahead = cluster.replica(skew=+SKEW, start=False)
    cluster.seed(3, expired=False)  # hh tokens: 14 days left
    ahead.start()
    behind = cluster.replica(skew=-SKEW)

    # Two minutes before expiry (world time), the replica running ahead must not refresh: the
    # look-alike would answer "token not expired" and count it.
    cluster.advance(1209600 - SKEW / 2)
    api_ahead, api_behind = cluster.api(ahead), cluster.api(behind)
    before = [api_ahead.get(f"/api/v1/connections/hh/seed:{n}/token") for n in range(3)]
    assert all(r.status_code == 200 for r in before), [r.text for r in before]
    assert cluster.devidp.hh_stats()["token_not_expired"] == 0
    assert cluster.devidp.hh_stats()["refreshes_ok"] == 0

    # Just past expiry, the replica running behind must not hand out the expired tokens.
    cluster.advance(SKEW / 2 + 2)
    hh = httpx.Client(base_url=f"{cluster.devidp.url}/hh",
                      headers={"HH-User-Agent": "T/1.0 (t@example.com)"})
    cluster.cleanup.callback(hh.close)
    for n in range(3):
        token = api_behind.get(f"/api/v1/connections/hh/seed:{n}/token")
        assert token.status_code == 200, token.text
        assert token.json()["access_token"] != before[n].json()["access_token"]
        me = hh.get("/me", headers={"Authorization": f"Bearer {token.json()['access_token']}"})
        assert me.status_code == 200, me.text
    stats = cluster.devidp.hh_stats()
    assert stats["token_not_expired"] == 0
    assert stats["already_refreshed"] == 0
    # Both replicas know and say how far off they are.
    for replica, expected in ((ahead, SKEW), (behind, -SKEW)):
        ready = httpx.get(f"{replica.url}/readyz").json()
        assert ready["clock"] == "skewed"
        assert abs(ready["clock_skew_seconds"] - expected) < 1


def test_a_killed_replicas_claims_are_taken_over(cluster):
    # The doomed replica waits for the provider as long as it likes: its claims are live as long
    # as it is, and must not be taken over meanwhile.
    doomed = cluster.replica(http_timeout="300s", start=False)
    cluster.seed(4, expired=True)
    cluster.devidp.control("hh/config", {"hang_seconds": 300})
    cluster.devidp.control("hh/faults", {"mode": "hang", "count": 4})
    doomed.start()
    wait_until(lambda: cluster.devidp.hh_stats()["faults_injected"] == 4,
               "the doomed replica's four refreshes reaching the provider", idle_bound=20)
    survivor = cluster.replica()
    assert claims(survivor)["won"] == 0  # the live holder's claims are left alone
    # Time stops here, so that the dead replica's leases cannot run out before the test says so
    # (then the clock is moved past them, rather than waiting for them in real time).
    cluster.world.freeze()
    doomed.kill()
    # A bot asking while the dead replica's lease holds gets 503 with Retry-After, never a long
    # wait; once the lease has run out, its token.
    api = cluster.api(survivor)
    held = api.get("/api/v1/connections/hh/seed:0/token")
    assert held.status_code == 503, held.text
    assert int(held.headers["Retry-After"]) >= 1
    cluster.advance(CLAIM_LEASE.total_seconds() + 1)

    def token() -> httpx.Response | None:
        answer = api.get("/api/v1/connections/hh/seed:0/token")
        if answer.status_code == 503:
            assert int(answer.headers["Retry-After"]) >= 1
            return None
        return answer

    assert wait_until(token, "a bot's token", idle_bound=30, interval=0.2).status_code == 200
    wait_until(lambda: cluster.devidp.hh_stats()["refreshes_ok"] == 4,
               "the survivor refreshing the dead replica's four claims", idle_bound=30)
    assert sum(claims(survivor).values()) >= 4  # by its engine, or for the bot
    stats = cluster.devidp.hh_stats()
    assert stats["already_refreshed"] == 0  # the hung requests were never answered
    rows = cluster.api(survivor).get("/api/v1/connections").json()["items"]
    assert [r["status"] for r in rows] == ["active"] * 4


def test_concurrent_first_starts_share_one_keyring(cluster):
    """Three replicas started at once on an empty database: one schema, one set of keys."""
    from concurrent.futures import ThreadPoolExecutor

    from sqlalchemy import create_engine, text

    replicas = [cluster.replica(start=False) for _ in range(3)]
    with ThreadPoolExecutor(3) as pool:
        list(pool.map(lambda r: r.start(), replicas))
    engine = create_engine(cluster.pg_url.replace("postgresql://", "postgresql+psycopg://"))
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM data_keys")).scalar() == 1
    engine.dispose()
    cluster.seed(1, expired=False)  # encrypted by the test's own runtime, same keyring
    tokens = {cluster.api(r).get("/api/v1/connections/hh/seed:0/token").json()["access_token"]
              for r in replicas}
    assert len(tokens) == 1
    for replica in replicas:
        assert not (replica.data_dir / "keyring.json").exists()


def test_a_replica_without_the_master_key_refuses_to_start_and_leaves_nothing(cluster):
    cluster.replica()  # the database's keys are wrapped by the cluster's master key
    for master_key in ("", "A" * 43):  # none, and a wrong one
        stray = cluster.replica(start=False, master_key=master_key)
        # In this process (the command's code, exit code and output; a new Python costs
        # seconds): tests/cli runs the commands as real processes.
        result = stray.cli("status", check=False)
        assert result.returncode == 2, result.stderr
        problems = [line for line in result.stderr.splitlines() if "master_key" in line]
        assert len(problems) == 1, result.stderr
        assert "Traceback" not in result.stderr
        assert not stray.data_dir.exists()  # no key file, nothing at all


def test_keys_rotate_rotates_for_every_replica(cluster):
    first, second = cluster.replica(start=False), cluster.replica(start=False)
    cluster.seed(1, expired=False)
    first.start()
    second.start()
    before = cluster.api(second).get("/api/v1/connections/hh/seed:0/token").json()
    first.cli("keys", "rotate")
    from sqlalchemy import create_engine, text

    engine = create_engine(cluster.pg_url.replace("postgresql://", "postgresql+psycopg://"))
    with engine.connect() as conn:
        kids = conn.execute(text("SELECT kid FROM data_keys ORDER BY seq")).scalars().all()
        sealed = conn.execute(text("SELECT access_token_enc FROM connections")).scalar_one()
    engine.dispose()
    assert len(kids) == 2 and sealed.split(".")[1] == kids[-1]  # re-encrypted under the new key
    cluster.advance(10)  # past the cached token
    after = cluster.api(second).get("/api/v1/connections/hh/seed:0/token")
    assert after.status_code == 200 and after.json()["access_token"] == before["access_token"]


def test_doctor_reports_the_database_clock_and_the_shared_keys(cluster):
    import asyncio

    from authgate.config import load_settings
    from authgate.deploy.doctor import run_doctor

    replica = cluster.replica()  # the database is migrated and keyed once a replica runs

    async def doctor() -> dict[str, str]:
        async with httpx.AsyncClient() as http:
            checks = await run_doctor(load_settings(replica.config, environ={}), http=http)
        return {c.name: f"{c.status}: {c.detail}" for c in checks}

    report = asyncio.run(doctor())
    assert report["database clock"].startswith("ok: within 1 s of the database's"), report
    assert report["encryption keys"] == "ok: in the database, opened with the master key"
