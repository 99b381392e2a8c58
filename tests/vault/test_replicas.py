"""Several ``authgate serve`` replicas on one PostgreSQL database, against one hh.ru look-alike
that counts every rule a client breaks (a refresh before expiry, a refresh token used twice).

The replicas are real processes; time is the test's (``ClockFile``): the look-alike and the
database go by the "world" clock, and a replica with a skewed clock gets a clock file of its own.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest

from authgate.clock import TEST_DATABASE_CLOCK_FILE_ENV
from tests.harness import (
    ClockFile,
    DevIdp,
    Gateway,
    hh_provider_config,
    skip_unless_installed,
    wait_until,
)
from tests.postgres import pg_bin, postgres_server
from tests.stacks import Stack, seed_connections

pytestmark = [pytest.mark.postgres, skip_unless_installed(pg_bin() is not None, "PostgreSQL")]

SKEW = 120.0  # seconds: the replica whose clock was two minutes off


class Cluster:
    """One look-alike, one database, replicas started on demand (each with its own data_dir)."""

    def __init__(self, tmp: Path, cleanup: ExitStack, pg_url: str) -> None:
        self.tmp, self.cleanup, self.pg_url = tmp, cleanup, pg_url
        self.world = ClockFile(tmp / "world-clock")
        self.devidp = DevIdp(tmp, gateway_url="http://127.0.0.1:1", clock=self.world)
        cleanup.callback(self.devidp.stop)
        self.devidp.start()
        self.replicas: list[Gateway] = []
        self.api_key = ""

    def replica(self, *, skew: float = 0.0, http_timeout: str | None = None,
                start: bool = True) -> Gateway:
        """A replica; ``skew``: its clock this many seconds ahead of the world's."""
        sub = self.tmp / f"replica{len(self.replicas)}"
        sub.mkdir()
        clock = self.world
        if skew:
            clock = ClockFile(sub / "clock")
            clock.advance(self.world.offset + skew)
        gateway = Gateway(sub, body=hh_provider_config(self.devidp.url), clock=clock,
                          top=f'database_url = "{self.pg_url}"\n', http_timeout=http_timeout)
        # The database's clock is the world's, whatever this replica's says.
        gateway.env[TEST_DATABASE_CLOCK_FILE_ENV] = str(self.world.path)
        self.cleanup.callback(gateway.stop)
        if self.replicas:  # one keyring for all: the first replica's, copied as operators do
            gateway.data_dir.mkdir(mode=0o700)
            shutil.copy2(self.replicas[0].data_dir / "keyring.json", gateway.data_dir)
        self.replicas.append(gateway)
        if not self.api_key:
            self.api_key = gateway.create_api_key()
        if start:
            gateway.start()
        return gateway

    def advance(self, seconds: float) -> None:
        """Move the world, and every skewed replica's clock with it."""
        for clock in {id(g.clock): g.clock for g in self.replicas}.values():
            if clock is not self.world:
                clock.advance(seconds)
        self.world.advance(seconds)

    def seed(self, count: int, *, expired: bool) -> None:
        seed_connections(Stack(self.devidp, self.replicas[0], self.api_key, self.world), count,
                         expired=expired)

    def api(self, gateway: Gateway) -> httpx.Client:
        client = httpx.Client(base_url=gateway.url,
                              headers={"Authorization": f"Bearer {self.api_key}"})
        self.cleanup.callback(client.close)
        return client


@pytest.fixture(scope="module")
def pg_server() -> Iterator[str]:
    with postgres_server() as url:
        yield url


@pytest.fixture
def cluster(tmp_path: Path, pg_server: str) -> Iterator[Cluster]:
    # A fresh database per test on the module's server (creating one is cheap; a server is not).
    import uuid

    from sqlalchemy import create_engine, text

    name = f"t{uuid.uuid4().hex[:12]}"
    admin = create_engine(pg_server.replace("postgresql://", "postgresql+psycopg://"),
                          isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    with ExitStack() as cleanup:
        yield Cluster(tmp_path, cleanup, pg_server.rsplit("/", 1)[0] + f"/{name}")


def claims(gateway: Gateway) -> dict[str, float]:
    """This replica's refresh claims by result, from its own metrics."""
    text = httpx.get(f"{gateway.url}/metrics").text
    found = {"won": 0.0, "lost": 0.0}
    for line in text.splitlines():
        if line.startswith("authgate_refresh_claims_total{"):
            result = line.split('result="', 1)[1].split('"', 1)[0]
            found[result] = float(line.rsplit(" ", 1)[1])
    return found


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
    doomed.kill()
    # No clock is moved: the lease (seconds) runs out in real time.
    wait_until(lambda: cluster.devidp.hh_stats()["refreshes_ok"] == 4,
               "the survivor refreshing the dead replica's four claims", idle_bound=30)
    assert claims(survivor)["won"] == 4
    stats = cluster.devidp.hh_stats()
    assert stats["already_refreshed"] == 0  # the hung requests were never answered
    rows = cluster.api(survivor).get("/api/v1/connections").json()["items"]
    assert [r["status"] for r in rows] == ["active"] * 4
