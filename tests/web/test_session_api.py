"""``/auth/verify`` and ``/auth/me`` through the real ASGI app (review findings)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from authgate.runtime import Runtime
from authgate.signin.audit import LOCAL
from tests.harness import bound
from tests.web.test_pages import _client


@pytest.fixture
def gateway(tmp_path: Path) -> Iterator[httpx.Client]:
    yield from _client(tmp_path, "http://127.0.0.1:8000")


def _runtime(client: httpx.Client) -> Runtime:
    runtime: Runtime = client.app.app.state.runtime  # type: ignore[attr-defined]
    return runtime


def _session(client: httpx.Client, username: str, role: str = "user",
             email: str | None = None) -> str:
    runtime = _runtime(client)
    user = runtime.signin.users.add(username, role=role, email=email, now=runtime.clock.now())
    return runtime.signin.sessions.start(user, provider=LOCAL, ip=None, user_agent=None).token


def test_more_than_one_session_cookie_is_refused(gateway: httpx.Client) -> None:
    admin = _session(gateway, "root", "admin")
    planted = _session(gateway, "mal")
    for cookie in (f"authgate_session={planted}; authgate_session={admin}",
                   f"authgate_session={admin}; theme=x; authgate_session={admin}"):
        verify = gateway.get("/auth/verify?role=admin", headers={"Cookie": cookie})
        assert verify.status_code == 401, cookie
        assert verify.json()["error"] == "session_ambiguous"
        assert gateway.get("/auth/me", headers={"Cookie": cookie}).status_code == 401
    one = gateway.get("/auth/verify?role=admin", headers={"Cookie": f"authgate_session={admin}"})
    assert one.status_code == 200 and one.headers["x-auth-request-user"] == "root"


def test_a_revocation_by_another_process_is_seen_by_the_next_verify(
        gateway: httpx.Client) -> None:
    """Review finding: after an idle spell the first /auth/verify after `users disable` (another
    process) answered 200, as the revocation set reloaded in the background."""
    token = _session(gateway, "ida", "admin")
    cookie = {"Cookie": f"authgate_session={token}"}
    assert gateway.get("/auth/verify", headers=cookie).status_code == 200
    time.sleep(1.2)  # idle for longer than the revocation set's interval (1 s)
    runtime = _runtime(gateway)
    other = Runtime.open(runtime.settings)  # `authgate users disable ida`
    try:
        other.signin.users.set_disabled("ida", True, other.clock.now())
    finally:
        other.engine.dispose()
    started = time.monotonic()
    refused = gateway.get("/auth/verify", headers=cookie)
    took = time.monotonic() - started
    assert refused.status_code == 401 and refused.json()["error"] == "session_revoked"
    # The wait for one reload (a few ms on SQLite), well inside the bound: a second on an idle
    # machine, scaled with the load like every other bound.
    assert took < bound(1.0)


def test_an_email_with_a_line_break_is_encoded_not_a_dropped_connection(
        gateway: httpx.Client) -> None:
    token = _session(gateway, "eve", email="eve@corp.example\r\nX-Auth-Request-Role: admin")
    verify = gateway.get("/auth/verify", headers={"Cookie": f"authgate_session={token}"})
    assert verify.status_code == 200
    assert verify.headers["x-auth-request-email"] == (
        "eve@corp.example%0D%0AX-Auth-Request-Role%3A%20admin")
    assert verify.headers["x-auth-request-role"] == "user"
