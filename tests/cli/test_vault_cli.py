"""The vault's command line against a running stack: what a shell script would see."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import httpx
import pytest

from tests.harness import (
    AUTHGATE,
    CliProcess,
    approve_hh,
    assert_no_secrets,
    bound,
    connect_hh,
    free_port,
    open_connect_link,
    wait_until,
)
from tests.stacks import seed_connections


def test_token_json_and_status(stack_factory):
    """What a shell script gets from $(authgate token hh) (a real process), and the rest."""
    stack = stack_factory()  # hh.ru's 14-day lifetime, and the clock stands: nothing refreshes
    connect_hh(stack.gateway.url, stack.api_key, owner="default")
    cli = stack.gateway.cli
    token = stack.gateway.cli_process("token", "hh").stdout
    assert re.fullmatch(r"[A-Za-z0-9_-]{20,}\n", token), "only the token, for $(authgate token hh)"
    record = json.loads(cli("token", "hh", "--owner", "default", "--json").stdout)
    assert record["access_token"] == token.strip() and record["expires_at"]
    status = cli("status").stdout
    assert "hh" in status and "default" in status and "active" in status
    missing = cli("token", "hh", "--owner", "nobody", check=False)
    assert missing.returncode == 1 and "not_found" in missing.stderr
    # Naming a provider that is not configured is a usage error, and says what there is.
    for command in ("token", "connect"):
        unknown = stack.gateway.cli(command, "hhh", check=False)
        assert unknown.returncode == 2, unknown.stderr
        assert "'hhh'" in unknown.stderr and "API providers: hh" in unknown.stderr
    assert_no_secrets([missing.stderr, status], [token.strip(), stack.api_key])


def test_refresh_due_without_a_server(stack_factory):
    stack = stack_factory()
    connect_hh(stack.gateway.url, stack.api_key, owner="default")
    stack.gateway.stop()  # no engine: refresh --due must do the work
    before = stack.gateway.cli("token", "hh").stdout
    assert "refreshed 0" in stack.gateway.cli("refresh", "--due").stdout  # nothing due yet
    stack.expire_tokens()
    assert "refreshed 1" in stack.gateway.cli("refresh", "--due").stdout
    after = stack.gateway.cli("token", "hh").stdout
    assert after != before
    assert stack.devidp.hh_stats()["refreshes_ok"] == 1


def test_connect_prints_a_link_and_waits(stack_factory):
    """``authgate connect`` as a process: prints the link, returns once it was used."""
    stack = stack_factory()
    command = [*AUTHGATE, "connect", "hh", "--owner", "cli", "--config", str(stack.gateway.config)]
    connect = CliProcess(command, env=stack.gateway.env)
    with connect:
        link = connect.read_line_containing("/connect/hh?session=")
        with httpx.Client(timeout=bound(10)) as browser:
            start = open_connect_link(browser, link.strip())
            back = approve_hh(browser, start.headers["location"], "10000002")
            browser.get(back.headers["location"])
        out = connect.finish()
    assert connect.returncode == 0
    assert "connected" in out and "Anna Smirnova" in out


def test_client_library_and_httpx_auth(stack_factory):
    from authgate import Client
    from authgate.errors import NeedsReauth, NotFound

    stack = stack_factory()
    connect_hh(stack.gateway.url, stack.api_key, owner="tg:1")
    with Client(stack.gateway.url, stack.api_key) as client:
        token = client.token("hh", owner="tg:1")
        assert token.access_token and token.expires_at is not None
        api = httpx.Client(base_url=f"{stack.devidp.url}/hh", auth=client.auth("hh", "tg:1"),
                           headers={"HH-User-Agent": "T/1.0 (t@example.com)"})
        assert api.get("/me").json()["first_name"] == "Ivan"
        with pytest.raises(NotFound):
            client.token("hh", owner="nobody")
        stack.devidp.control("hh/revoke", {"account_id": "10000001"})
        stack.expire_tokens()  # the vault learns of the revocation when it next refreshes
        with pytest.raises(NeedsReauth) as refused:
            client.token("hh", owner="tg:1")
        assert "revoked" in refused.value.detail


def test_token_takes_the_short_way_only_for_a_token_handed_out_as_stored(stack_factory):
    """``authgate token`` reads a fresh token without SQLAlchemy (what a bot waits for on each
    call); a token due for refresh goes the vault's whole way and is refreshed there."""
    stack = stack_factory()
    connect_hh(stack.gateway.url, stack.api_key, owner="default")
    stack.gateway.stop()
    probe = ("import sys; from authgate.cli.main import main\n"
             "sys.argv = ['authgate', *sys.argv[1:]]\n"
             "try:\n    main()\nexcept SystemExit as exc:\n    assert not exc.code, exc.code\n"
             "print('sqlalchemy' in sys.modules, file=sys.stderr)")

    def token() -> tuple[str, str]:
        done = subprocess.run([sys.executable, "-c", probe, "token", "hh", "--json", "--config",
                               str(stack.gateway.config)], capture_output=True, text=True,
                              env=stack.gateway.env, timeout=bound(60), check=True)
        return done.stdout, done.stderr.strip().splitlines()[-1]

    stored, loaded = token()
    assert loaded == "False", "the short way"
    assert stored == stack.gateway.cli("token", "hh", "--json").stdout  # as the whole way says
    stack.expire_tokens()
    refreshed, loaded = token()
    assert loaded == "True", "a token due for refresh: the whole way"
    assert json.loads(refreshed)["access_token"] != json.loads(stored)["access_token"]
    assert stack.devidp.hh_stats()["refreshes_ok"] == 1
    again, loaded = token()
    assert (again, loaded) == (refreshed, "False")


def test_a_second_server_on_one_sqlite_database_is_refused(stack_factory):
    stack = stack_factory()
    second = stack.gateway.cli_process("serve", "--listen", f"127.0.0.1:{free_port()}",
                                       check=False)
    assert second.returncode == 2, second.stderr
    assert "SQLite is for one server process" in second.stderr
    assert "Traceback" not in second.stderr
    assert httpx.get(f"{stack.gateway.url}/readyz").status_code == 200  # the first one goes on


def test_refresh_due_beside_a_server_counts_only_its_own_refreshes(stack_factory):
    stack = stack_factory()
    stack.devidp.control("hh/latency", {"ms": 20})
    seed_connections(stack, 8, expired=True)  # the server's engine starts on them at once
    line = stack.gateway.cli("refresh", "--due").stdout
    mine = int(line.split("refreshed ", 1)[1].split(",", 1)[0])
    wait_until(lambda: stack.devidp.hh_stats()["refreshes_ok"] == 8, "all eight refreshed")
    server = httpx.get(f"{stack.gateway.url}/metrics").text
    won = sum(float(row.rsplit(" ", 1)[1]) for row in server.splitlines()
              if row.startswith('authgate_refresh_claims_total{result="won"}'))
    assert mine + won == 8, (line, won)
    assert stack.devidp.hh_stats()["already_refreshed"] == 0
