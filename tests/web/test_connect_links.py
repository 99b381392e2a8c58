"""A bot's connect link asks first (review finding: ``/connect/hh?session=…`` went straight to the
provider, naming nobody, and a chat's link-preview bot could use it up)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from authgate.runtime import Runtime
from tests.web.test_pages import _client


@pytest.fixture
def gateway(tmp_path: Path) -> Iterator[httpx.Client]:
    yield from _client(tmp_path, "http://127.0.0.1:8000")


def test_a_connect_link_names_the_bot_and_the_owner_and_asks_first(
        gateway: httpx.Client) -> None:
    runtime: Runtime = gateway.app.app.state.runtime  # type: ignore[attr-defined]
    key, _view = runtime.apikeys.create("job-bot", now=runtime.clock.now())
    link = gateway.post("/api/v1/connect-sessions", json={"provider": "hh", "owner": "tg:12345"},
                        headers={"Authorization": f"Bearer {key}"}).json()["url"]
    path = link.removeprefix("http://127.0.0.1:8000")

    for _preview in range(2):  # a link-preview bot, then the person: nothing is used up
        page = gateway.get(path, headers={"Accept-Language": "en"})
        assert page.status_code == 200, page.text
        assert "Connect your hh account to job-bot for tg:12345?" in page.text
    ru = gateway.get(path, headers={"Accept-Language": "ru"})
    assert "Подключить ваш аккаунт hh к job-bot для tg:12345?" in ru.text
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page.text))
    assert set(fields) == {"csrf_token", "session"}

    forged = gateway.post("/connect/hh", data={"session": fields["session"]})
    assert forged.status_code == 403  # no CSRF token: the link is still unused
    go = gateway.post("/connect/hh", data=fields)
    assert go.status_code == 303
    assert go.headers["location"].startswith("http://devidp.test/hh/oauth/authorize?")
    used = gateway.get(path)
    assert used.status_code == 400 and "already used" in used.text
    assert gateway.post("/connect/hh", data=fields).status_code == 400
