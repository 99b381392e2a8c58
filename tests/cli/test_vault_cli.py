"""The vault's command line against a running stack: what a shell script would see."""

from __future__ import annotations

import json
import re
import subprocess
import threading
import time

import httpx

from tests.harness import AUTHGATE, approve_hh, assert_no_secrets, connect_hh, open_connect_link


def test_token_json_and_status(stack_factory):
    stack = stack_factory()  # hh.ru's 14-day lifetime: nothing refreshes during the test
    connect_hh(stack.gateway.url, stack.api_key, owner="default")
    token = stack.gateway.cli("token", "hh").stdout
    assert re.fullmatch(r"[A-Za-z0-9_-]{20,}\n", token), "only the token, for $(authgate token hh)"
    record = json.loads(stack.gateway.cli("token", "hh", "--owner", "default", "--json").stdout)
    assert record["access_token"] == token.strip() and record["expires_at"]
    status = stack.gateway.cli("status").stdout
    assert "hh" in status and "default" in status and "active" in status
    missing = stack.gateway.cli("token", "hh", "--owner", "nobody", check=False)
    assert missing.returncode == 1 and "not_found" in missing.stderr
    # Naming a provider that is not configured is a usage error, and says what there is.
    for command in ("token", "connect"):
        unknown = stack.gateway.cli(command, "hhh", check=False)
        assert unknown.returncode == 2, unknown.stderr
        assert "'hhh'" in unknown.stderr and "API providers: hh" in unknown.stderr
    assert_no_secrets([missing.stderr, status], [token.strip(), stack.api_key])


def test_refresh_due_without_a_server(stack_factory):
    stack = stack_factory(access_lifetime=10)
    connect_hh(stack.gateway.url, stack.api_key, owner="default")
    connected = time.monotonic()
    stack.gateway.stop()  # no engine: refresh --due must do the work
    before = stack.gateway.cli("token", "hh").stdout
    time.sleep(max(0.0, 10.2 - (time.monotonic() - connected)))
    assert "refreshed 1" in stack.gateway.cli("refresh", "--due").stdout
    after = stack.gateway.cli("token", "hh").stdout
    assert after != before
    assert stack.devidp.hh_stats()["refreshes_ok"] == 1


def test_connect_prints_a_link_and_waits(stack_factory):
    stack = stack_factory()
    proc = subprocess.Popen([*AUTHGATE, "connect", "hh", "--owner", "cli", "--config",
                             str(stack.gateway.config)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    link = ""
    deadline = time.monotonic() + 20
    while not link and time.monotonic() < deadline:
        line = proc.stdout.readline()
        if "/connect/hh?session=" in line:
            link = line.strip()

    def user() -> None:
        with httpx.Client() as browser:
            start = open_connect_link(browser, link)
            back = approve_hh(browser, start.headers["location"], "10000002")
            browser.get(back.headers["location"])

    threading.Thread(target=user).start()
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0
    assert "connected" in out and "Anna Smirnova" in out


def test_client_library_and_httpx_auth(stack_factory):
    from authgate import Client
    from authgate.errors import NeedsReauth, NotFound

    stack = stack_factory(access_lifetime=4)
    connect_hh(stack.gateway.url, stack.api_key, owner="tg:1")
    with Client(stack.gateway.url, stack.api_key) as client:
        token = client.token("hh", owner="tg:1")
        assert token.access_token and token.expires_at is not None
        api = httpx.Client(base_url=f"{stack.devidp.url}/hh", auth=client.auth("hh", "tg:1"),
                           headers={"HH-User-Agent": "T/1.0 (t@example.com)"})
        assert api.get("/me").json()["first_name"] == "Ivan"
        try:
            client.token("hh", owner="nobody")
        except NotFound:
            pass
        else:
            raise AssertionError("expected NotFound")
        stack.devidp.control("hh/revoke", {"account_id": "10000001"})
        time.sleep(4.2)  # the vault learns of the revocation when it next refreshes
        try:
            client.token("hh", owner="tg:1")
        except NeedsReauth as exc:
            assert "revoked" in exc.detail
        else:
            raise AssertionError("expected NeedsReauth")
