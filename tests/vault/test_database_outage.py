"""PostgreSQL stopped in the middle of a refresh storm: the provider has spent the refresh
tokens and answers while the database is away. No connection may be lost; meanwhile the API
answers 503 with Retry-After (never 500) and serves the new tokens it holds; a replica killed
during the outage still writes what it held once restarted, even after another replica took its
claims over."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest

from tests.harness import skip_unless_installed, wait_until
from tests.postgres import PostgresInstance, pg_bin, postgres_instance
from tests.replicas import Cluster, journaled

pytestmark = [pytest.mark.postgres, skip_unless_installed(pg_bin() is not None, "PostgreSQL")]

CONNECTIONS = 4


@pytest.fixture
def pg() -> Iterator[PostgresInstance]:
    with postgres_instance() as instance:
        yield instance


def test_a_database_outage_mid_storm_loses_no_connection(tmp_path: Path, pg: PostgresInstance):
    with ExitStack() as cleanup:
        cluster = Cluster(tmp_path, cleanup, pg.url)
        doomed = cluster.replica(http_timeout="300s", start=False)
        cluster.seed(CONNECTIONS, expired=True)
        # The provider spends each refresh token at once and answers when the test says.
        cluster.devidp.control("hh/config", {"hang_seconds": 300})
        cluster.devidp.control("hh/faults", {"mode": "hold", "count": CONNECTIONS})
        doomed.start()
        wait_until(lambda: cluster.devidp.hh_stats()["held"] == CONNECTIONS,
                   "every refresh waiting at the provider", idle_bound=20)
        other = cluster.replica(http_timeout="300s")
        for replica in (doomed, other):  # the bots' key, checked by each before the outage
            assert cluster.api(replica).get("/api/v1/connections").status_code == 200

        pg.stop()
        cluster.devidp.control("hh/faults", {"mode": None})  # the answers arrive now
        wait_until(lambda: journaled(doomed) == CONNECTIONS,
                   "the new pairs kept for the database", idle_bound=20)
        for replica in (doomed, other):
            api = cluster.api(replica)
            listing = api.get("/api/v1/connections")
            assert listing.status_code == 503, listing.text
            assert int(listing.headers["Retry-After"]) >= 1
            assert listing.json()["error"] == "database_unavailable"
        # The replica that holds a new pair serves it while the database is away.
        hh = httpx.Client(base_url=f"{cluster.devidp.url}/hh",
                          headers={"HH-User-Agent": "T/1.0 (t@example.com)"})
        cleanup.callback(hh.close)
        for n in range(CONNECTIONS):
            answers = [cluster.api(r).get(f"/api/v1/connections/hh/seed:{n}/token")
                       for r in (doomed, other)]
            assert sorted(a.status_code for a in answers) == [200, 503], [a.text for a in answers]
            token = next(a for a in answers if a.status_code == 200).json()["access_token"]
            me = hh.get("/me", headers={"Authorization": f"Bearer {token}"})
            assert me.status_code == 200, me.text

        doomed.kill()  # what it holds is in its journal only
        # The outage outlasts the claims' lease: once the database is back, the other replica
        # takes the dead one's claims over and sends the spent refresh tokens again, which the
        # provider refuses ("already refreshed"). Worst case on purpose: it goes first.
        cluster.advance(15)
        pg.start()
        wait_until(lambda: cluster.devidp.hh_stats()["already_refreshed"] == CONNECTIONS,
                   "the other replica's takeover of the orphaned claims", idle_bound=30)
        # The kept pairs, written on restart, still win: the refusals changed no generation.
        doomed.start()

        def settled() -> list[dict[str, object]] | None:
            rows = cluster.api(other).get("/api/v1/connections").json()["items"]
            done = [r for r in rows if r["status"] == "active" and r["last_refresh_at"]]
            return rows if len(done) == CONNECTIONS and not journaled(doomed) + journaled(
                other) else None

        rows = wait_until(settled, "every kept pair written after the outage", idle_bound=30)
        assert len(rows) == CONNECTIONS
        assert cluster.devidp.hh_stats()["refreshes_ok"] == CONNECTIONS  # none spent twice
        for n in range(CONNECTIONS):
            token = cluster.api(other).get(f"/api/v1/connections/hh/seed:{n}/token")
            assert token.status_code == 200, token.text
            me = hh.get("/me", headers={"Authorization": f"Bearer {token.json()['access_token']}"})
            assert me.status_code == 200, me.text
        for replica in (doomed, other):
            log = replica.log_text()
            assert "Task exception was never retrieved" not in log
            assert "Traceback" not in log
            # One line when the database went away, not one per failure.
            assert log.count("cannot claim due connections") <= 1, log[-2000:]
