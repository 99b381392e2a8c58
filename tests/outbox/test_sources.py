"""Changes made outside the server (commands, imports) write their events too."""

from __future__ import annotations

from pathlib import Path

from authgate.clock import FrozenClock
from authgate.runtime import Runtime
from authgate.signin.seed_import import import_users
from tests.inprocess import hh_settings


def test_imported_users_are_announced_in_the_import_transaction(tmp_path: Path) -> None:
    clock = FrozenClock()
    runtime = Runtime.open(hh_settings(tmp_path / "data"), clock=clock)
    try:
        runtime.webhooks.add("http://127.0.0.1:9/hook", events=["*"], now=clock.now())
        runtime.signin.users.add("old", role="user", now=clock.now())
        import_users(runtime.db, {"new": {"role": "user"}, "old": {"disabled": True}},
                     default_role="user", now=clock.now(), outbox=runtime.outbox)
        logged = [(d.event_type, d.ordering_key) for d in reversed(runtime.outbox.recent())]
        assert logged == [("user.created", "user:old"), ("user.created", "user:new"),
                          ("user.disabled", "user:old")]
    finally:
        runtime.engine.dispose()
