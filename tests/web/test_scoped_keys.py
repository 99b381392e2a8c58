"""API keys scoped to an owner prefix and to read-only (security review, finding 13), through the
real ASGI app, the command line and the console."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from starlette.testclient import TestClient
from typer.testing import CliRunner

from authgate.cli.common import out
from authgate.cli.main import app as cli_app
from authgate.clock import FrozenClock
from authgate.config import load_settings
from authgate.protocol.rfc6749_oauth2 import TokenResponse
from authgate.providers.base import Account
from authgate.runtime import Runtime
from authgate.store.db import make_engine, migrate
from authgate.web.app import create_app
from tests.inprocess import hh_settings
from tests.web.test_first_hour import csrf_of, sign_in

GATEWAY = "http://127.0.0.1:8000"
OWNERS = ("tg:1", "tg:2", "slack:1")


@dataclass
class Vault:
    runtime: Runtime
    app: object

    def bot(self, **scope: object) -> httpx.Client:
        key, _view = self.runtime.apikeys.create("bot", now=self.runtime.clock.now(),
                                                 **scope)  # type: ignore[arg-type]
        client = TestClient(self.app, base_url=GATEWAY,  # type: ignore[arg-type]
                            follow_redirects=False)
        client.headers["Authorization"] = f"Bearer {key}"
        return client


@pytest.fixture
def vault(tmp_path: Path) -> Iterator[Vault]:
    clock = FrozenClock()
    settings = hh_settings(tmp_path / "data").model_copy(update={"public_url": GATEWAY})
    runtime = Runtime.open(settings, clock=clock)
    now = clock.now()
    for owner in OWNERS:  # stored connections whose tokens are good for an hour
        runtime.vault.store.save_tokens(
            "hh", owner, TokenResponse(access_token=f"at-{owner}", expires_in=3600),
            Account(id=owner, name=None), now=now, next_refresh_at=now + timedelta(hours=1))
    yield Vault(runtime, create_app(runtime, run_engine=False))
    runtime.engine.dispose()


def _owners(client: httpx.Client) -> list[str]:
    listed = client.get("/api/v1/connections")
    assert listed.status_code == 200, listed.text
    return sorted(c["owner"] for c in listed.json()["items"])


def test_a_key_scoped_to_a_prefix_sees_only_those_owners(vault: Vault) -> None:
    bot = vault.bot(owner_prefix="tg:")
    assert _owners(bot) == ["tg:1", "tg:2"]
    assert bot.get("/api/v1/connections/hh/tg:1/token").json()["access_token"] == "at-tg:1"

    # Another owner's connection is as absent as one that does not exist: same status, same body.
    absent = bot.get("/api/v1/connections/hh/slack:2/token")
    outside = bot.get("/api/v1/connections/hh/slack:1/token")
    assert outside.status_code == absent.status_code == 404
    assert outside.json()["error"] == absent.json()["error"] == "not_found"
    assert outside.json()["detail"].replace("slack:1", "X") == \
        absent.json()["detail"].replace("slack:2", "X")
    gone = bot.delete("/api/v1/connections/hh/slack:1")
    assert gone.status_code == 404 and "at-" not in gone.text
    assert vault.runtime.vault.store.get("hh", "slack:1") is not None  # not deleted

    refused = bot.post("/api/v1/connect-sessions", json={"provider": "hh", "owner": "slack:9"})
    assert refused.status_code == 403 and refused.json()["error"] == "owner_out_of_scope"
    made = bot.post("/api/v1/connect-sessions", json={"provider": "hh", "owner": "tg:9"})
    assert made.status_code == 201, made.text

    assert bot.delete("/api/v1/connections/hh/tg:2").status_code == 204
    assert _owners(bot) == ["tg:1"]


def test_a_read_only_key_lists_and_reads_but_changes_nothing(vault: Vault) -> None:
    bot = vault.bot(read_only=True)
    assert _owners(bot) == sorted(OWNERS)
    assert bot.get("/api/v1/connections/hh/slack:1/token").json()["access_token"] == "at-slack:1"
    for response in (bot.post("/api/v1/connect-sessions", json={"provider": "hh", "owner": "x"}),
                     bot.delete("/api/v1/connections/hh/tg:1")):
        assert response.status_code == 403, response.text
        assert response.json()["error"] == "read_only_key"
    assert vault.runtime.vault.store.get("hh", "tg:1") is not None


def test_a_key_without_a_scope_keeps_full_access(vault: Vault) -> None:
    bot = vault.bot()
    assert _owners(bot) == sorted(OWNERS)
    assert bot.post("/api/v1/connect-sessions",
                    json={"provider": "hh", "owner": "anyone"}).status_code == 201
    assert bot.delete("/api/v1/connections/hh/slack:1").status_code == 204


def test_keys_made_before_the_migration_are_unscoped(tmp_path: Path) -> None:
    """A database at 0002 with a key in it: after the upgrade the key may do everything."""
    from alembic import command

    from authgate.store.db import _alembic_config

    db = tmp_path / "old.db"
    engine = make_engine(f"sqlite:///{db}")
    try:
        command.upgrade(_alembic_config(engine), "0002_harden")
        with sqlite3.connect(db) as conn:
            conn.execute("INSERT INTO api_keys (name, prefix, key_hash, created_at) "
                         "VALUES ('old', 'agk_x', 'h', '2026-01-01 00:00:00')")
        migrate(engine)
        with sqlite3.connect(db) as conn:
            assert conn.execute("SELECT owner_prefix, read_only FROM api_keys").fetchall() == [
                (None, 0)]
    finally:
        engine.dispose()


def _config(tmp_path: Path) -> Path:
    config = tmp_path / "authgate.toml"
    config.write_text(f'public_url = "{GATEWAY}"\ndata_dir = "{tmp_path / "data"}"\n')
    return config


def test_the_command_line_creates_and_lists_scoped_keys(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(out, "width", 200)  # a wide terminal: one line per key
    config = _config(tmp_path)
    runner = CliRunner()
    made = runner.invoke(cli_app, ["apikey", "create", "tg-bot", "--owner-prefix", "tg:",
                                   "--read-only", "--config", str(config)])
    assert made.exit_code == 0, (made.output, made.exception)
    key = made.stdout.strip().splitlines()[-1]
    assert key.startswith("agk_")
    assert runner.invoke(cli_app, ["apikey", "create", "all", "--config",
                                   str(config)]).exit_code == 0
    listed = runner.invoke(cli_app, ["apikey", "list", "--config", str(config)])
    assert listed.exit_code == 0, listed.output
    assert "scope" in listed.output
    tg_row = next(line for line in listed.output.splitlines() if "tg-bot" in line)
    assert "owners tg:*, read-only" in tg_row
    all_row = next(line for line in listed.output.splitlines() if " all " in line)
    assert "all owners" in all_row and "read-only" not in all_row

    bad = runner.invoke(cli_app, ["apikey", "create", "x", "--owner-prefix", "_app",
                                  "--config", str(config)])
    assert bad.exit_code == 2 and "--owner-prefix" in bad.output

    runtime = Runtime.open(load_settings(config, environ={}))
    try:
        view = runtime.apikeys.authenticate(key)
        assert view.owner_prefix == "tg:" and view.read_only
    finally:
        runtime.engine.dispose()


@pytest.mark.parametrize("lang, scope", [("en", "owners tg:…, read-only"),
                                         ("ru", "владельцы tg:…, только чтение")])
@pytest.mark.usefixtures("cheap_passwords")
def test_the_console_creates_scoped_keys_and_shows_the_scope(vault: Vault, lang: str,
                                                             scope: str) -> None:
    from authgate.signin.passwords import hash_password

    runtime = vault.runtime
    runtime.signin.users.add("root", role="admin", now=runtime.clock.now(),
                             password_hash=hash_password("correct horse battery"))
    admin = TestClient(vault.app, base_url=GATEWAY,  # type: ignore[arg-type]
                       follow_redirects=False)
    admin.headers["Accept-Language"] = lang
    sign_in(admin, "root", "correct horse battery")
    page = admin.get("/console/apikeys").text
    assert 'name="owner_prefix"' in page and 'name="read_only"' in page
    made = admin.post("/console/apikeys", data={
        "name": "tg-bot", "owner_prefix": "tg:", "read_only": "1", "csrf_token": csrf_of(page)})
    assert made.status_code == 200 and 'data-testid="new-key"' in made.text
    (view,) = runtime.apikeys.list_keys()
    assert view.owner_prefix == "tg:" and view.read_only
    row = made.text[made.text.index(f'data-key-id="{view.id}"'):]
    assert scope in row[:row.index("</tr>")]

    bad = admin.post("/console/apikeys", data={
        "name": "x", "owner_prefix": "_app", "csrf_token": csrf_of(made.text)})
    assert bad.status_code == 200 and 'data-testid="prefix-error"' in bad.text
    assert len(runtime.apikeys.list_keys()) == 1
