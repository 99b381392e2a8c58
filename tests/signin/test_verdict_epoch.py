"""The verdict epoch nginx's verify cache keys on: a new value on every change of a verdict."""

from __future__ import annotations

from pathlib import Path

from authgate.clock import FrozenClock
from authgate.config import Settings
from authgate.runtime import Runtime
from authgate.signin.users import UserView


def _open(tmp_path: Path) -> Runtime:
    settings = Settings(public_url="https://auth.example.com", data_dir=tmp_path / "data")
    return Runtime.open(settings, clock=FrozenClock())


def _user(runtime: Runtime, name: str) -> UserView:
    return runtime.signin.users.add(name, role="user", now=runtime.clock.now())


def test_written_only_once_active_and_anew_on_each_change(tmp_path: Path) -> None:
    runtime = _open(tmp_path)
    other = _open(tmp_path)  # another process on the same database (the CLI)
    try:
        svc, path = runtime.signin, runtime.settings.verify_epoch_path
        svc.keys.load()
        svc.revocations.load()
        user = _user(runtime, "ann")
        session = svc.sessions.start(user, provider="local", ip=None, user_agent=None)
        assert not path.exists()  # the CLI's runtimes never write it
        svc.epoch.activate()
        seen = [path.read_text()]
        assert len(seen[0]) == 16 and path.stat().st_mode & 0o777 == 0o644

        def changed() -> bool:
            value = path.read_text()
            fresh = value not in seen
            seen.append(value)
            return fresh

        assert not changed()
        svc.sessions.verify(session.token)  # a passing check changes nothing
        assert not changed()
        svc.sessions.end(session.sid)  # sign-out in this process
        assert changed()

        # A role change and a disable in another process: seen at this one's next reload.
        for act in (lambda u: other.signin.users.set_role(u, "admin", other.clock.now()),
                    lambda u: other.signin.users.set_disabled(u, True, other.clock.now())):
            user = _user(runtime, f"u{len(seen)}")
            svc.sessions.start(user, provider="local", ip=None, user_agent=None)
            act(user.username)
            assert not changed()
            svc.revocations.load()
            assert changed()
        svc.revocations.load()  # nothing new: same epoch
        assert not changed()

        svc.keys.rotate(runtime.clock.now())  # key rotation
        assert changed()
    finally:
        runtime.engine.dispose()
        other.engine.dispose()
