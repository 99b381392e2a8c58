"""Two replicas on one PostgreSQL database: every event delivered, none by both."""

from __future__ import annotations

import re
import shutil
from collections import Counter
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.harness import (
    Gateway,
    free_port,
    hh_provider_config,
    skip_unless_installed,
    wait_until,
)
from tests.postgres import pg_bin, postgres_server
from tests.stacks import make_stack
from tests.webhooks.harness import ReceiverProcess, new_secret, outbox_rows, webhook_config

pytestmark = [pytest.mark.postgres, skip_unless_installed(pg_bin() is not None, "PostgreSQL")]

EVENTS = 1000
IMPORT_BATCH = 50
DELIVERED = re.compile(
    r'^authgate_outbox_deliveries_total\{channel="webhook",outcome="delivered"\} (\S+)$', re.M)


def _delivered_by(gateway: Gateway) -> int:
    found = DELIVERED.search(httpx.get(f"{gateway.url}/metrics").text)
    return int(float(found.group(1))) if found else 0


def test_two_replicas_deliver_1000_events_each_exactly_once(tmp_path: Path) -> None:
    from authgate.config import load_settings
    from authgate.runtime import Runtime
    from authgate.signin.seed_import import import_users

    with postgres_server() as pg_url, ExitStack() as cleanup:
        secret = new_secret()
        (tmp_path / "webhook.secret").write_text(secret)
        port = free_port()
        extra = webhook_config(f"http://127.0.0.1:{port}/hook", tmp_path / "webhook.secret")
        stack = make_stack(tmp_path, cleanup, extra=extra, database_url=pg_url)
        receiver = ReceiverProcess(tmp_path, secret, stack.clock, port=port)
        cleanup.callback(receiver.stop)
        receiver.start()
        # The second replica: same database, same keys, another process and port.
        other_dir = tmp_path / "replica2"
        other_dir.mkdir()
        second = Gateway(other_dir, body=hh_provider_config(stack.devidp.url) + extra,
                         top=f'database_url = "{pg_url}"\n', clock=stack.clock)
        second.data_dir.mkdir(mode=0o700)
        for name in ("keyring.json", "csrf.key"):
            shutil.copy2(stack.gateway.data_dir / name, second.data_dir / name)
        cleanup.callback(second.stop)
        second.start()

        # 1000 changes, each committed with its event, while the replicas deliver: imports of
        # 50 users at a time (one transaction each, as `authgate users import` makes them;
        # 1000 transactions of one user spent most of this test's CPU making them).
        runtime = Runtime.open(load_settings(stack.gateway.config), clock=stack.clock.clock())
        try:
            for first in range(0, EVENTS, IMPORT_BATCH):
                import_users(runtime.db, {f"user{n:04d}": {"role": "user"}
                                          for n in range(first, first + IMPORT_BATCH)},
                             default_role="user", now=runtime.clock.now(),
                             outbox=runtime.outbox)
        finally:
            runtime.engine.dispose()

        delivered = receiver.wait_for(EVENTS, "every event", idle_bound=120)
        ids = Counter(r["id"] for r in delivered)
        assert len(ids) == EVENTS, "0 lost"
        assert max(ids.values()) == 1, "0 delivered twice"
        assert all(r["verified"] for r in receiver.received())
        # A replica records a delivery (its outbox row, its metric) after the receiver has
        # answered: wait for the records of the last ones.
        def counted() -> tuple[int, int] | None:
            counts = (_delivered_by(stack.gateway), _delivered_by(second))
            return counts if sum(counts) >= EVENTS else None

        def finished() -> list[Any] | None:
            rows = outbox_rows(stack.gateway.config, stack.clock)
            return rows if all(r.state != "pending" for r in rows) else None

        by_replica = wait_until(counted, "every delivery counted by its replica")
        assert sum(by_replica) == EVENTS
        rows = wait_until(finished, "every outbox row finished")
        assert Counter(r.state for r in rows) == Counter({"delivered": EVENTS})
        assert len({r.delivered_by for r in rows}) == 2, f"one replica did all: {by_replica}"
        print(f"delivered by replica 1: {by_replica[0]}, by replica 2: {by_replica[1]}")
