"""The connections a page at a time: the console's list (and its poll) and ``authgate status``
(a vault may hold 100 000 connections; the API's listing is paged the same way)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from starlette.testclient import TestClient
from typer.testing import CliRunner

from authgate.cli.common import out
from authgate.cli.main import app as cli_app
from authgate.clock import FrozenClock
from authgate.protocol.rfc6749_oauth2 import TokenResponse
from authgate.providers.base import Account
from authgate.runtime import Runtime
from authgate.signin.passwords import hash_password
from authgate.web.app import create_app
from authgate.web.console.connections import PAGE_SIZE
from tests.inprocess import hh_settings
from tests.web.test_first_hour import sign_in

GATEWAY = "http://127.0.0.1:8000"
PASSWORD = "correct horse battery"
OWNERS = [f"tg:{i:03d}" for i in range(PAGE_SIZE + 5)] + ["user:olga"]


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[Runtime]:
    clock = FrozenClock()
    settings = hh_settings(tmp_path / "data").model_copy(update={"public_url": GATEWAY})
    made = Runtime.open(settings, clock=clock)
    now = clock.now()
    for owner in OWNERS:
        made.vault.store.save_tokens(
            "hh", owner, TokenResponse(access_token=f"at-{owner}", expires_in=3600),
            Account(id=owner, name=None), now=now, next_refresh_at=now + timedelta(hours=1))
    for name, role in (("root", "admin"), ("olga", "user")):
        made.signin.users.add(name, role=role, now=now, password_hash=hash_password(PASSWORD))
    yield made
    made.engine.dispose()


def _owners(html: str) -> list[str]:
    return re.findall(r'data-field="owner" title="([^"]+)"', html)


@pytest.mark.parametrize("lang", ["en", "ru"])
def test_the_console_lists_connections_a_page_at_a_time(runtime: Runtime, lang: str) -> None:
    admin = TestClient(create_app(runtime, run_engine=False), base_url=GATEWAY,
                       follow_redirects=False)
    admin.headers["Accept-Language"] = lang
    sign_in(admin, "root", PASSWORD)
    first = admin.get("/console/connections").text
    assert _owners(first) == OWNERS[:PAGE_SIZE]
    after = re.search(r'href="/console/connections\?after=([^"]+)"', first)
    assert after, first
    second = admin.get(f"/console/connections?after={after.group(1)}").text
    assert _owners(second) == OWNERS[PAGE_SIZE:]
    assert "?after=" not in second.split("data-poll")[1].split("</table>")[1]  # the last page
    assert 'href="/console/connections"' in second  # back to the first
    poll = re.search(r'data-poll="([^"]+)"', second)
    assert poll and "after=" in poll.group(1)
    polled = admin.get(poll.group(1).replace("&amp;", "&")).json()["rows"]
    assert [r["owner"] for r in polled] == OWNERS[PAGE_SIZE:]

    # A user sees their own connection only, on the first page.
    olga = TestClient(create_app(runtime, run_engine=False), base_url=GATEWAY,
                      follow_redirects=False)
    sign_in(olga, "olga", PASSWORD)
    assert _owners(olga.get("/console/connections").text) == ["user:olga"]


def test_status_prints_a_page_and_where_the_next_begins(runtime: Runtime, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(out, "width", 200)
    config = tmp_path / "authgate.toml"
    config.write_text(f'public_url = "{GATEWAY}"\ndata_dir = "{runtime.settings.data_dir}"\n')
    runner = CliRunner()

    def status(*args: str) -> tuple[list[str], str]:
        done = runner.invoke(cli_app, ["status", *args, "--config", str(config)])
        assert done.exit_code == 0, (done.output, done.exception)
        # The account column repeats the owner (the account id here).
        return list(dict.fromkeys(re.findall(r"(tg:\d+|user:\w+)", done.stdout))), done.stderr

    shown, more = status("--limit", "3")
    assert shown == OWNERS[:3] and more.strip() == "more: --after hh/tg:002"
    shown, more = status("--limit", "3", "--after", "hh/tg:002")
    assert shown == OWNERS[3:6]
    shown, more = status("--owner", "user:")
    assert shown == ["user:olga"] and not more.strip()
    bad = runner.invoke(cli_app, ["status", "--after", "nothing", "--config", str(config)])
    assert bad.exit_code == 2
