"""``/auth/verify`` and ``/auth/me`` through the real ASGI app (review findings)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from authgate.runtime import Runtime
from authgate.signin.audit import LOCAL
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
