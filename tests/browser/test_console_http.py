"""The console over plain HTTP (no browser): what a page must refuse, and the time words."""

from __future__ import annotations

import re
from contextlib import closing
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from authgate.web.console.timefmt import relative, span
from tests.demo_harness import DemoProcess
from tests.harness import bound, connect_hh


def _signed_in(demo: DemoProcess) -> httpx.Client:
    client = httpx.Client(base_url=demo.gateway, timeout=bound(10))
    page = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token, page.text
    password = demo.admin_password()
    assert password
    done = client.post("/login", data={"username": "admin", "password": password,
                                       "csrf_token": token.group(1)})
    assert done.status_code == 303, done.text
    return client


def _console_token(client: httpx.Client) -> str:
    page = client.get("/console/apikeys")
    assert page.status_code == 200, page.text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token
    return token.group(1)


def test_console_forms_need_the_csrf_token(demo: DemoProcess) -> None:
    with closing(_signed_in(demo)) as client:
        token = _console_token(client)
        missing = client.post("/console/apikeys", data={"name": "forged-1"})
        assert missing.status_code == 403 and "csrf_failed" in missing.text
        wrong = client.post("/console/apikeys", data={"name": "forged-2", "csrf_token": "x"})
        assert wrong.status_code == 403
        foreign = client.post("/console/apikeys", data={"name": "forged-3", "csrf_token": token},
                              headers={"Origin": "https://evil.example"})
        assert foreign.status_code == 403
        page = client.get("/console/apikeys").text
        assert "forged-" not in page
        made = client.post("/console/apikeys", data={"name": "genuine", "csrf_token": token})
        assert made.status_code == 200 and "agk_" in made.text


def test_console_wants_a_session(demo: DemoProcess) -> None:
    with httpx.Client(base_url=demo.gateway, timeout=bound(10)) as client:
        live = client.get("/console/connections.json")
        assert live.status_code == 401 and live.json()["error"] == "unauthorized"
        post = client.post("/console/connections/disconnect",
                           data={"provider": "hh", "owner": "tg:1"})
        assert post.status_code == 303 and post.headers["location"].startswith("/login?next=")
        assert client.get("/").headers["location"] == "/console"


def test_the_live_table_json_is_shaped_for_console_js(demo: DemoProcess) -> None:
    with closing(_signed_in(demo)) as client:
        made = client.post("/console/apikeys", data={"name": "json-test",
                                                     "csrf_token": _console_token(client)})
        key = re.search(r"agk_[A-Za-z0-9_-]+", made.text)
        assert key
        assert connect_hh(demo.gateway, key.group(0), "tg:json").status_code == 200
        data = client.get("/console/connections.json").json()
    assert set(data) == {"rows", "updated"}
    row = next(r for r in data["rows"] if r["key"] == "hh/tg:json")
    assert row["account"] == "Ivan Petrov" and row["provider_name"] == "HeadHunter (demo)"
    assert row["status"] in ("active", "expired", "refreshing")
    assert not any("token" in name for name in row)  # no field carries a token


@pytest.mark.parametrize(("seconds", "lang", "text"), [
    (0, "en", "0 s"), (5, "en", "5 s"), (65, "en", "1 min 5 s"), (3600, "en", "1 h"),
    (3660, "en", "1 h 1 min"), (1209600, "en", "14 d"), (90061, "ru", "1 д 1 ч"),
])
def test_spans(seconds: int, lang: str, text: str) -> None:
    assert span(seconds, lang) == text


def test_relative_times() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert relative(now + timedelta(seconds=75), now, "en") == "in 1 min 15 s"
    assert relative(now - timedelta(seconds=3), now, "ru") == "3 с назад"
    assert relative(now, now, "en") == "now"
    assert relative(None, now, "en", empty="never") == "never"
