"""The straight-on-ASGI answer of a passing ``/auth/verify`` (web/verify_path.py) against the
full application's, and what it tells nginx's cache."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from starlette.testclient import TestClient

from authgate.clock import FrozenClock
from authgate.runtime import Runtime
from authgate.signin.audit import LOCAL
from authgate.web.app import create_app
from tests.inprocess import hh_settings
from tests.web.test_pages import _client

VARYING = {"date", "x-accel-expires"}


@pytest.fixture(params=["http://127.0.0.1:8000", "https://auth.example"])
def gateway(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[httpx.Client]:
    yield from _client(tmp_path, request.param)


def _token(client: httpx.Client, username: str, role: str = "user") -> str:
    runtime: Runtime = client.app.app.state.runtime  # type: ignore[attr-defined]
    user = runtime.signin.users.add(username, role=role, email=f"{username}@example.com",
                                    now=runtime.clock.now())
    return runtime.signin.sessions.start(user, provider=LOCAL, ip=None, user_agent=None).token


def test_the_plain_case_answers_as_the_full_application(gateway: httpx.Client) -> None:
    token = _token(gateway, "olga", "admin")
    fast = gateway.get("/auth/verify?role=admin", headers={"Cookie": f"authgate_session={token}"})
    # A Bearer token is not the plain case: the full application answers it.
    full = gateway.get("/auth/verify?role=admin", headers={"Authorization": f"Bearer {token}"})
    assert fast.status_code == full.status_code == 200
    assert ({k: v for k, v in fast.headers.items() if k not in VARYING}
            == {k: v for k, v in full.headers.items() if k not in VARYING})
    assert fast.headers["x-auth-request-user"] == "olga"
    assert ("strict-transport-security" in fast.headers) == gateway.base_url.scheme.endswith("s")
    # Kept by nginx at most to the end of this second, by the wall clock.
    for answer in (fast, full):
        assert answer.headers["x-accel-expires"].lstrip("@") in {
            str(int(time.time())), str(int(time.time()) - 1)}


def test_anything_else_goes_to_the_full_application(gateway: httpx.Client) -> None:
    token = _token(gateway, "pete")
    cookie = f"authgate_session={token}"
    for query, headers, status, error in [
            ("", {}, 401, "session_missing"),
            ("?role=admin", {"Cookie": cookie}, 403, "role_required"),
            ("", {"Cookie": f"{cookie}; authgate_session={token}"}, 401, "session_ambiguous"),
            ("?aud=x", {"Cookie": cookie}, 400, "invalid_audience"),
            ("", {"Cookie": "authgate_session=a.b.c"}, 401, "session_invalid")]:
        answer = gateway.get(f"/auth/verify{query}", headers=headers)
        assert (answer.status_code, answer.json()["error"]) == (status, error), query
        assert "x-accel-expires" not in answer.headers


def test_a_session_about_to_end_is_not_kept(tmp_path: Path) -> None:
    clock = FrozenClock()
    runtime = Runtime.open(hh_settings(tmp_path / "data"), clock=clock)
    try:
        client = TestClient(create_app(runtime, run_engine=False), base_url="http://gw.test")
        token = _token(client, "quinn")
        cookie = {"Cookie": f"authgate_session={token}"}
        assert "x-accel-expires" in client.get("/auth/verify", headers=cookie).headers
        clock.advance(runtime.signin.sessions.lifetime.total_seconds() - 1)
        answer = client.get("/auth/verify", headers=cookie)
        assert answer.status_code == 200 and "x-accel-expires" not in answer.headers
    finally:
        runtime.engine.dispose()
