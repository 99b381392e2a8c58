"""kill -9 during a refresh storm: after a restart no connection is lost or corrupted.

hh.ru's refresh tokens are single-use. A refresh that the provider completed but whose answer
died with the process cannot be recovered by anyone; those connections (exactly the refreshes in
flight at the kill) must say so plainly, and every other one must work.

The storm is staged, not raced: the look-alike answers the first ``DONE`` refreshes, then spends
the next refresh tokens and holds the answers, so the kill finds a known state however fast the
machine is: ``DONE`` refreshed, ``CONCURRENCY`` spent in flight, the rest not yet started.
"""

from __future__ import annotations

import httpx

from tests.harness import wait_until
from tests.stacks import seed_connections

CONNECTIONS = 150  # what matters is the three kinds at the kill, not how many there are
DONE = 40
CONCURRENCY = 16  # the vault's refresh_concurrency (its default)
HTTP_TIMEOUT = 300  # the held answers must still be awaited at the kill, however slow it is
LEASE = 2 * HTTP_TIMEOUT + 5  # after which a claim is presumed dead (Vault.lease)


def test_kill_during_refresh_storm_loses_nothing(stack_factory):
    stack = stack_factory(http_timeout=f"{HTTP_TIMEOUT}s", start_gateway=False)
    seed_connections(stack, CONNECTIONS, expired=True)
    stack.devidp.control("hh/config", {"hang_seconds": HTTP_TIMEOUT})  # held until released
    stack.devidp.control("hh/faults", {"mode": "spend_and_hold", "after": DONE,
                                       "count": CONNECTIONS})
    stack.gateway.start()  # the engine starts refreshing them all at once
    stats = wait_until(
        lambda: (s := stack.devidp.hh_stats())["held"] == CONCURRENCY and s,
        "the storm reaching the held refreshes", idle_bound=30)
    assert stats["refreshes_ok"] == DONE + CONCURRENCY  # the held ones are spent too
    stack.gateway.kill()
    stack.devidp.control("hh/faults", {"mode": None})  # held answers go nowhere now

    with httpx.Client(base_url=stack.gateway.url, headers=stack.auth) as api:
        stack.gateway.start()
        # Claims orphaned by the kill become eligible again after the lease: move past it.
        stack.clock.advance(LEASE + 1)

        def settled() -> list[dict]:
            rows = api.get("/api/v1/connections", params={"limit": 1000}).json()["items"]
            pending = [r for r in rows if r["status"] == "active" and r["last_refresh_at"] is None]
            return [] if pending else rows

        rows = wait_until(settled, "every connection refreshed or given up", idle_bound=60,
                          interval=0.2)
        assert len(rows) == CONNECTIONS, "a connection row was lost"
        broken = [r for r in rows if r["status"] != "active"]
        # Exactly the refreshes in flight at the kill are lost, and they say why.
        assert len(broken) == CONCURRENCY, broken[:3]
        for row in broken:
            assert row["status"] == "needs_reauth" and "interrupted" in row["last_error"]
        stats = stack.devidp.hh_stats()
        assert stats["token_not_expired"] == 0
        assert stats["already_refreshed"] == CONCURRENCY
        assert stats["refreshes_ok"] == CONNECTIONS  # each connection's token spent once

        # Every active connection hands out a token that works at the provider right now.
        with httpx.Client(base_url=f"{stack.devidp.url}/hh",
                          headers={"HH-User-Agent": "T/1.0 (t@example.com)"}) as hh:
            for row in rows:
                if row["status"] != "active":
                    continue
                token = api.get(f"/api/v1/connections/hh/{row['owner']}/token")
                assert token.status_code == 200, token.text
                me = hh.get("/me", headers={
                    "Authorization": f"Bearer {token.json()['access_token']}"})
                assert me.status_code == 200, row["owner"]
