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
