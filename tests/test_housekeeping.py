from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from authgate.clock import FrozenClock
from authgate.housekeeping import purge_stale
from authgate.runtime import Runtime
from authgate.store.models import AuthFlow, ConnectSession
from tests.inprocess import hh_settings


def _count(runtime: Runtime, model: type) -> int:
    with runtime.db() as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def test_stale_flows_and_links_go_fresh_ones_stay(tmp_path):
    clock = FrozenClock()
    runtime = Runtime.open(hh_settings(tmp_path / "data"), clock=clock)
    runtime.flows.start(kind="connect", provider="hh", redirect_uri="http://x/cb", binding="b" * 40,
                        now=clock.now())
    runtime.links.create("hh", "old", now=clock.now(), lifetime=timedelta(minutes=30))
    clock.advance(2 * 86400)
    runtime.links.create("hh", "new", now=clock.now(), lifetime=timedelta(minutes=30))
    removed = purge_stale(runtime.db, clock.now())
    assert removed["auth_flows"] == 1 and removed["connect_sessions"] == 1
    assert _count(runtime, AuthFlow) == 0 and _count(runtime, ConnectSession) == 1
    assert purge_stale(runtime.db, clock.now())["connect_sessions"] == 0
    runtime.engine.dispose()


def test_finished_outbox_messages_go_after_30_days_pending_ones_stay(tmp_path):
    from authgate.outbox.message import DeliveryResult
    from authgate.store.models import OutboxMessage

    clock = FrozenClock()
    runtime = Runtime.open(hh_settings(tmp_path / "data"), clock=clock)
    runtime.webhooks.add("http://127.0.0.1:9/hook", events=[], now=clock.now())
    runtime.signin.users.add("ann", role="user", now=clock.now())
    runtime.signin.users.add("bob", role="user", now=clock.now())
    [first, _second] = runtime.outbox.claim(now=clock.now(), lease=timedelta(seconds=60),
                                            limit=10, claimer="t")
    runtime.outbox.finish(first, DeliveryResult.delivered(), now=clock.now(), claimer="t")
    clock.advance(29 * 86400)
    assert purge_stale(runtime.db, clock.now())["outbox_messages"] == 0
    clock.advance(2 * 86400)
    assert purge_stale(runtime.db, clock.now())["outbox_messages"] == 1
    assert _count(runtime, OutboxMessage) == 1  # the undelivered one stays
    runtime.engine.dispose()
