"""The straight-on-ASGI answers (web/hot_paths.py) against the full application's: a passing
``/auth/verify`` (and what it tells nginx's cache) and a token from memory."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import cast

import anyio
import httpx
import pytest
from starlette.responses import JSONResponse
from starlette.testclient import TestClient

from authgate.apikeys import CACHE_SECONDS, ApiKeys
from authgate.clock import FrozenClock
from authgate.runtime import Runtime
from authgate.secret_values import digest
from authgate.signin.audit import LOCAL
from authgate.vault.service import RENEW_AHEAD, TOKEN_CACHE_SECONDS, IssuedToken
from authgate.web.api import token_json
from authgate.web.app import create_app
from authgate.web.hot_paths import TokenBodies
from authgate.web.middleware import DOCUMENT_HEADERS
from tests.inprocess import hh_settings
from tests.web.test_pages import _client
from tests.web.test_scoped_keys import Vault, vault  # noqa: F401 (a fixture)

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
    # The same answer, without the document headers: nginx's check is never a page.
    assert ({k: v for k, v in fast.headers.items() if k not in VARYING}
            == {k: v for k, v in full.headers.items() if k not in VARYING})
    assert not {k.lower() for k in DOCUMENT_HEADERS} & fast.headers.keys()
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


def test_a_token_from_memory_answers_as_the_full_application(
        vault: Vault, caplog: pytest.LogCaptureFixture) -> None:  # noqa: F811
    caplog.set_level("INFO", logger="authgate.access")
    bot = vault.bot(owner_prefix="tg:")
    path = "/api/v1/connections/hh/tg:1/token"
    full = bot.get(path)  # the key and the token are not in memory yet: the application answers
    assert vault.runtime.vault.remembered("hh", "tg:1") is not None
    fast = bot.get(path)
    assert fast.status_code == full.status_code == 200
    assert fast.content == full.content and fast.json()["access_token"] == "at-tg:1"
    for _ in range(3):
        assert bot.get(path).content == full.content
    # The API's own line, then the first read from memory; the next ones are only counted.
    lines = [r.getMessage() for r in caplog.records if path in r.getMessage()]
    assert len(lines) == 2 and lines[1].endswith("reads=1"), lines
    assert ({k: v for k, v in fast.headers.items() if k != "date"}
            == {k: v for k, v in full.headers.items() if k != "date"})
    # Outside the key's scope, or the application's own token: the application says 404.
    assert bot.get("/api/v1/connections/hh/slack:1/token").status_code == 404
    assert bot.get("/api/v1/connections/hh/_application/token").status_code == 404
    # Another key, not checked yet: the application checks it (a wrong one: 401).
    stranger = bot.get(path, headers={"Authorization": "Bearer agk_not-a-key"})
    assert stranger.status_code == 401
    # Two keys: the first one counts, here as in the application (which would say 401).
    valid = str(bot.headers["Authorization"])
    both = bot.get(path, headers=httpx.Headers([("Authorization", "Bearer agk_not-a-key"),
                                                ("Authorization", valid)]))
    assert both.status_code == 401
    # A bot's answer is not a page: no document headers, here as in the application.
    assert not {k.lower() for k in DOCUMENT_HEADERS} & fast.headers.keys()
    assert fast.headers["cache-control"] == "no-store"


def test_a_token_body_is_the_api_json_at_every_moment() -> None:
    bodies = TokenBodies()
    start = datetime(2026, 1, 1, tzinfo=UTC)
    hourly = IssuedToken("at-ü\"1", "bearer", start + timedelta(hours=1))
    for issued in (hourly, IssuedToken("at-2", "Bearer", None),
                   IssuedToken("at-3", "bearer", start + timedelta(seconds=2, microseconds=5))):
        for offset in (0.0, 0.4, 1.0, 2.0, 2.5, 3600.0, 7200.0):
            now = start + timedelta(seconds=offset)
            assert (bodies.body(("hh", "tg:1"), issued, now)
                    == JSONResponse(token_json(issued, now)).body), (issued, offset)
    # Each new token of the connection (a refresh) got its own body above; and so does the
    # first one again, never the last one's.
    assert (bodies.body(("hh", "tg:1"), hourly, start)
            == JSONResponse(token_json(hourly, start)).body)


def test_a_key_in_use_is_checked_again_before_it_lapses_and_a_revoked_one_dropped(
        vault: Vault) -> None:  # noqa: F811
    bot = vault.bot()
    presented = str(bot.headers["Authorization"]).removeprefix("Bearer ")
    keys, path = vault.runtime.apikeys, "/api/v1/connections/hh/tg:1/token"
    assert bot.get(path).status_code == 200  # the full way checks the key
    assert bot.get(path).status_code == 200  # from memory: the key is in use
    now = vault.runtime.clock.now()
    due = keys.due_for_renewal(within=CACHE_SECONDS)
    assert due == [digest(presented)]
    assert keys.due_for_renewal(within=CACHE_SECONDS) == []  # not used since
    keys.renew(due, now=now)
    assert keys.cached(presented) is not None
    # Revoked by another process (the memory here is not told): dropped at the next renewal.
    (key_id,) = [k.id for k in keys.list_keys()]
    ApiKeys(vault.runtime.db).revoke(key_id, now=now)
    assert keys.cached(presented) is not None
    keys.renew(keys.due_for_renewal(within=CACHE_SECONDS), now=now)
    assert keys.cached(presented) is None
    assert bot.get(path).status_code == 401


def test_a_token_read_from_memory_is_read_again_before_it_lapses(
        vault: Vault) -> None:  # noqa: F811
    clock = cast(FrozenClock, vault.runtime.clock)
    memory = vault.runtime.vault
    bot = vault.bot()
    for owner in ("tg:1", "tg:2"):  # both read by the full way, only tg:1 from memory after
        assert bot.get(f"/api/v1/connections/hh/{owner}/token").status_code == 200
    assert bot.get("/api/v1/connections/hh/tg:1/token").status_code == 200
    clock.advance(TOKEN_CACHE_SECONDS - RENEW_AHEAD.total_seconds() / 2)
    anyio.run(memory.renew_remembered)
    clock.advance(RENEW_AHEAD.total_seconds())  # past the first reads' keep
    assert memory.remembered("hh", "tg:1") is not None
    assert memory.remembered("hh", "tg:2") is None
