"""``authgate demo``: starts with nothing configured, answers on its URLs, stops on Ctrl+C, and
reuses its directory the next time."""

from __future__ import annotations

import json
import re
import socket
import time
from pathlib import Path

import httpx

from tests.demo_harness import DemoProcess, free_base_port
from tests.harness import ClockFile, bound, connect_hh, run_cli, wait_until


def _cli(directory: Path, *args: str) -> str:
    """Another authgate command against the demo, through the config file the demo wrote (run
    in this process: the command's code, not a Python start-up, is what matters here)."""
    result = run_cli([*args, "--config", str(directory / "authgate.toml")])
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_demo_runs_stops_and_reuses_its_data(tmp_path: Path) -> None:
    directory = tmp_path / "authgate-demo"
    # One clock for the three runs: between the first two it is moved past the tokens' lifetime,
    # so that the second run has to refresh one.
    clock = ClockFile(tmp_path / "clock")
    lifetime = ["--hh-lifetime", "600"]
    first = DemoProcess(directory, free_base_port(), tmp_path / "demo1.log", lifetime, clock)
    with first:
        first.start()
        for label, url in (("Console", f"{first.gateway}/console"),
                           ("Sign in", f"{first.gateway}/login"),
                           ("Sample panel", f"{first.panel}/")):
            assert f"{label}" in first.text and url in first.text, first.text
        password = first.admin_password()
        assert password and len(password) >= 16, first.text

        with httpx.Client(timeout=bound(5)) as http:
            assert http.get(f"{first.gateway}/healthz").status_code == 200
            assert http.get(f"{first.devidp}/healthz").status_code == 200
            login = http.get(f"{first.gateway}/login")
            assert login.status_code == 200
            assert "ZITADEL (demo)" in login.text
            # The console wants a session: to the sign-in page, and back afterwards.
            console = http.get(f"{first.gateway}/console/connections")
            assert console.status_code == 303
            assert console.headers["location"].startswith("/login?next=")
            panel = http.get(f"{first.panel}/")
            assert panel.status_code == 200 and 'data-testid="panel-user"' in panel.text
            # The protected panel page sends strangers to the gateway's sign-in page.
            reports = http.get(f"{first.panel}/reports")
            assert reports.status_code == 302
            assert reports.headers["location"].startswith(f"{first.gateway}/login?next=")
            # The config the banner offers to other commands describes this demo.
            config = (directory / "authgate.toml").read_text()
            assert 'display_name = "HeadHunter (demo)"' in config
            assert f'public_url = "{first.gateway}"' in config
        assert "access tokens live 600 s" in first.text

        # A bot's connection, made the way a bot's user makes it.
        api_key = _cli(directory, "apikey", "create", "demo-test").splitlines()[-1]
        done = connect_hh(first.gateway, api_key, "tg:1")
        assert done.status_code == 200, done.text

        started = time.monotonic()
        assert first.interrupt() == 0
        assert time.monotonic() - started < bound(5)  # promptly, not after a shutdown timeout
        assert "stopped" in first.text

    state = json.loads((directory / "devidp-state.json").read_text())
    assert state["version"] == 1
    assert (directory / "authgate.db").exists()
    assert oct((directory / "authgate.db").stat().st_mode & 0o777) == "0o600"

    clock.advance(600 + 5)  # the stored access token has expired meanwhile
    second = DemoProcess(directory, free_base_port(), tmp_path / "demo2.log", lifetime, clock)
    with second:
        second.start()
        assert second.admin_password() is None
        assert "admin exists" in second.text
        # The connection survived, and its refresh token is still known to the restarted
        # identity provider (its state file): the expired token is refreshed, not lost.
        with httpx.Client(base_url=second.gateway, timeout=bound(10),
                          headers={"Authorization": f"Bearer {api_key}"}) as api:
            token = api.get("/api/v1/connections/hh/tg:1/token")
            assert token.status_code == 200, token.text
            listed = {c["owner"]: c for c in api.get("/api/v1/connections").json()["items"]}
            assert listed["tg:1"]["status"] == "active"
            assert listed["tg:1"]["last_refresh_at"] is not None
            assert listed["tg:1"]["last_error"] is None
        assert second.interrupt() == 0

    third = DemoProcess(directory, free_base_port(), tmp_path / "demo3.log",
                        ["--reset-admin-password"], clock)
    with third:
        third.start()
        renewed = third.admin_password()
        assert renewed and renewed != password
        assert third.interrupt() == 0


def test_demo_refuses_a_busy_port(tmp_path: Path) -> None:
    base = free_base_port()
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", base + 1))
        busy.listen()
        # In this process: the refusal is the command's code (the demo as a process, above).
        result = run_cli(["demo", "--dir", str(tmp_path / "d"), "--port", str(base)])
    assert result.returncode == 1
    assert f"port {base + 1}" in result.stderr
    assert "--port" in result.stderr


def test_demo_shows_the_message_a_bot_user_gets(tmp_path: Path) -> None:
    clock = ClockFile(tmp_path / "clock")
    demo = DemoProcess(tmp_path / "authgate-demo", free_base_port(), tmp_path / "demo.log",
                       ["--hh-lifetime", "600"], clock)
    with demo:
        demo.start()
        chats = f"{demo.devidp}/telegram/chats"
        assert re.search(rf"Telegram chats\s+{re.escape(chats)}", demo.text), demo.text
        api_key = _cli(demo.directory, "apikey", "create", "demo-bot").splitlines()[-1]
        assert connect_hh(demo.gateway, api_key, "tg:77").status_code == 200
        with httpx.Client(timeout=bound(10)) as http:
            http.post(f"{demo.devidp}/_devidp/hh/revoke",
                      json={"account_id": "10000001"}).raise_for_status()
            clock.advance(600 + 5)
            token = http.get(f"{demo.gateway}/api/v1/connections/hh/tg:77/token",
                             headers={"Authorization": f"Bearer {api_key}"})
            assert token.status_code == 409, token.text
            wait_until(lambda: http.get(f"{demo.devidp}/_devidp/telegram/messages",
                                        params={"chat_id": 77}).json(),
                       "the demo bot's message")
            page = http.get(f"{chats}/77")
        assert page.status_code == 200
        assert "Your HeadHunter (demo) account (Ivan Petrov) is no longer connected" in page.text
        link = re.search(r'href="([^"]+)"', page.text.split('class="keys"')[1])
        assert link and link.group(1).startswith(f"{demo.gateway}/connect/hh?session=")
        assert demo.interrupt() == 0
    secret = link.group(1).split("session=")[1].replace("&amp;", "&")
    assert secret not in demo.log_text()
