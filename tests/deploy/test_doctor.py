"""``authgate doctor`` against real files, a real database and the real devidp over HTTP."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import typer
from typer.testing import CliRunner

from authgate.cli.deploy_cmd import doctor
from authgate.config import Settings, load_settings
from authgate.deploy.doctor import Check, run_doctor
from authgate.deploy.nginx import NginxSiteOptions, render_nginx_site
from authgate.devidp import DevIdpOptions, HhOptions, OidcOptions, create_devidp_app
from authgate.keyring import Keyring, keyring_path
from authgate.outbox.store import Outbox
from authgate.protocol.rfc6749_oauth2 import TokenResponse
from authgate.providers.base import Account
from authgate.signin.users import UserStore
from authgate.store.db import (
    database_url,
    make_engine,
    make_sessionmaker,
    migrate,
    prepare_data_dir,
)
from authgate.vault.connections import ConnectionStore
from tests.deploy.servers import Nginx, ThreadedServer, nginx_binary
from tests.harness import Gateway, free_port, skip_unless_installed

GATEWAY = "http://127.0.0.1:8000"  # the public_url the devidp has registered callbacks for


@pytest.fixture(scope="module")
def devidp() -> Iterator[str]:
    options = DevIdpOptions(
        hh=HhOptions(redirect_uris=[f"{GATEWAY}/auth/hh/callback"]),
        oidc=OidcOptions(redirect_uris=[f"{GATEWAY}/auth/zitadel/callback",
                                        f"{GATEWAY}/api/auth/oidc/zitadel/callback"],
                         allow_any_loopback_redirect=False))
    server = ThreadedServer(create_devidp_app(options)).start()
    yield server.url
    server.stop()


def write_config(tmp: Path, *, public_url: str, providers: str = "") -> Path:
    config = tmp / "authgate.toml"
    config.write_text(f'public_url = "{public_url}"\ndata_dir = "{tmp / "data"}"\n' + providers)
    return config


def provider_config(devidp: str) -> str:
    return f"""
[providers.zitadel]
kind = "oidc"
issuer = "{devidp}/oidc"
client_id = "authgate-dev"
client_secret = "dev-oidc-secret"

[providers.hh]
kind = "hh"
client_id = "DEVHHCLIENT"
client_secret = "dev-hh-secret"
user_agent = "AuthgateTests/1.0 (tests@example.com)"
authorize_url = "{devidp}/hh/oauth/authorize"
token_url = "{devidp}/hh/token"
api_base = "{devidp}/hh"
"""


def install(settings: Settings) -> None:
    """What `authgate serve` leaves behind: data_dir 0700, a migrated database, a key file."""
    prepare_data_dir(settings.data_dir)
    engine = make_engine(database_url(settings.database_url, settings.data_dir))
    migrate(engine)
    engine.dispose()
    Keyring(keyring_path(settings.data_dir))


def diagnose(settings: Settings, config: Path | None = None) -> dict[str, list[Check]]:
    async def go() -> list[Check]:
        async with httpx.AsyncClient() as http:
            return await run_doctor(settings, http=http, config_path=config)

    by_name: dict[str, list[Check]] = {}
    for check in asyncio.run(go()):
        by_name.setdefault(check.name, []).append(check)
    return by_name


def failures(checks: dict[str, list[Check]]) -> list[Check]:
    return [c for group in checks.values() for c in group if not c.ok]


def test_wrong_file_modes_are_reported_exactly(tmp_path: Path) -> None:
    config = write_config(tmp_path, public_url=f"http://127.0.0.1:{free_port()}")
    settings = load_settings(config, environ={})
    install(settings)
    key = keyring_path(settings.data_dir)
    os.chmod(key, 0o644)
    os.chmod(settings.data_dir, 0o755)

    checks = diagnose(settings, config)
    assert checks["key file"][0].detail == (
        f"keyring.json is 0644, expected 0600; fix: chmod 600 {key}")
    assert checks["data_dir"][0].detail == (
        f"data is 0755, expected 0700; fix: chmod 700 {settings.data_dir}")
    assert checks["database"][0].ok and checks["database file"][0].ok
    assert checks["configuration"][0].detail == f"loaded {config}"
    # authgate is not running: a warning, not a failure.
    proxy = checks["public_url through the proxy"][0]
    assert proxy.ok and proxy.warning and "not running / not reachable" in proxy.detail
    assert {c.name for c in failures(checks)} == {"key file", "data_dir", "sign-in"}


def test_missing_installation(tmp_path: Path) -> None:
    settings = load_settings(write_config(tmp_path, public_url="http://127.0.0.1:1"), environ={})
    checks = diagnose(settings)
    assert not checks["data_dir"][0].ok
    assert not checks["database"][0].ok and "does not exist" in checks["database"][0].detail
    assert checks["key file"][0].warning
    assert not settings.data_dir.exists()  # the doctor creates nothing


def test_connections_needing_reauthorization_are_listed(tmp_path: Path) -> None:
    settings = load_settings(write_config(tmp_path, public_url="http://127.0.0.1:1"), environ={})
    install(settings)
    engine = make_engine(database_url(settings.database_url, settings.data_dir))
    db = make_sessionmaker(engine)
    store = ConnectionStore(db, Keyring(keyring_path(settings.data_dir)), Outbox(db))
    now = datetime.now(UTC)
    for owner in ("tg:1", "tg:2"):
        store.save_tokens("hh", owner, TokenResponse(access_token="a" * 20,
                                                     refresh_token="r" * 20, expires_in=60),
                          Account(id="1", name=None), now=now,
                          next_refresh_at=now + timedelta(seconds=60))
    store.mark_needs_reauth(store.get("hh", "tg:2"),  # type: ignore[arg-type]
                            now=now, reason="the access was revoked at hh.ru")
    engine.dispose()

    check = diagnose(settings)["connections"][0]
    assert check.ok and check.warning
    assert "1 of 2 need re-authorization" in check.detail
    assert "hh/tg:2: the access was revoked at hh.ru" in check.detail
    assert "authgate connect hh --owner tg:2" in (check.hint or "")


def test_providers_with_registered_redirect_uris(tmp_path: Path, devidp: str) -> None:
    settings = load_settings(write_config(tmp_path, public_url=GATEWAY,
                                          providers=provider_config(devidp)), environ={})
    install(settings)
    checks = diagnose(settings)
    for name in ("zitadel", "hh"):
        assert checks[f"provider {name}: reachable"][0].ok
        accepted = checks[f"provider {name}: redirect URI accepted"]
        assert all(c.ok and not c.warning for c in accepted), accepted
    assert "issuer" in checks["provider zitadel: reachable"][0].detail
    uris = checks["provider zitadel: redirect URIs"][0].detail
    assert f"{GATEWAY}/auth/zitadel/callback" in uris
    assert f"{GATEWAY}/api/auth/oidc/zitadel/callback" in uris
    assert checks["clock skew"][0].ok and not checks["clock skew"][0].warning
    # Only authgate itself is missing (public_url points at nothing here).
    assert failures(checks) == []


def test_a_wrong_redirect_uri_is_reported(tmp_path: Path, devidp: str) -> None:
    wrong = f"http://127.0.0.1:{free_port()}"  # not what the devidp has registered
    settings = load_settings(write_config(tmp_path, public_url=wrong,
                                          providers=provider_config(devidp)), environ={})
    install(settings)
    checks = diagnose(settings)
    hh = checks["provider hh: redirect URI accepted"][0]
    assert not hh.ok
    assert f"redirect_uri={wrong}/auth/hh/callback" in hh.detail
    assert "HTTP 400" in hh.detail and "bad redirect url" in hh.detail
    assert hh.hint and f"register exactly {wrong}/auth/hh/callback" in hh.hint
    zitadel = checks["provider zitadel: redirect URI accepted"]
    assert not zitadel[0].ok and "HTTP 400" in zitadel[0].detail
    # The /api/auth/oidc/ alias is only needed by some panels: a warning.
    assert zitadel[1].ok and zitadel[1].warning
    assert {c.name for c in failures(checks)} == {"provider hh: redirect URI accepted",
                                                  "provider zitadel: redirect URI accepted"}


def test_unreachable_provider_and_wrong_issuer(tmp_path: Path, devidp: str) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    providers = f"""
[providers.gone]
kind = "oidc"
issuer = "{dead}/oidc"
client_id = "x"

[providers.slash]
kind = "oidc"
issuer = "{devidp}/oidc/"
client_id = "authgate-dev"
"""
    settings = load_settings(write_config(tmp_path, public_url=GATEWAY, providers=providers),
                             environ={})
    checks = diagnose(settings)
    assert "no answer" in checks["provider gone: reachable"][0].detail
    slash = checks["provider slash: reachable"][0]
    assert not slash.ok and "configure the issuer exactly" in slash.detail


def test_cli_doctor_exits_1_on_failure(tmp_path: Path) -> None:
    config = write_config(tmp_path, public_url="http://127.0.0.1:1")
    app = typer.Typer()
    app.command()(doctor)
    app.command("unused")(lambda: None)  # keeps `doctor` a named sub-command
    result = CliRunner().invoke(app, ["doctor", "--config", str(config)])
    assert result.exit_code == 1, result.output
    assert "data_dir" in result.output and "fail" in result.output

    settings = load_settings(config, environ={})
    install(settings)
    # Installed, but nobody can sign in yet: a failure that says how to fix it.
    result = CliRunner().invoke(app, ["doctor", "--config", str(config)])
    assert result.exit_code == 1, result.output
    assert "nobody can sign in" in result.output
    assert "authgate users add" in result.output

    engine = make_engine(database_url(settings.database_url, settings.data_dir))
    db = make_sessionmaker(engine)
    UserStore(db, outbox=Outbox(db)).add("root", role="admin", password_hash="x",
                                         now=datetime.now(UTC))
    engine.dispose()
    result = CliRunner().invoke(app, ["doctor", "--config", str(config)])
    assert result.exit_code == 0, result.output
    assert "0 failed" in result.output


@pytest.mark.nginx
@skip_unless_installed(nginx_binary() is not None, "nginx")
@pytest.mark.parametrize("tls", ["none", "terminated-upstream"])
def test_public_url_through_nginx_with_the_real_gateway(tmp_path: Path, tls: str) -> None:
    port = free_port()
    public_url = f"http://127.0.0.1:{port}"
    gateway = Gateway(tmp_path)
    gateway.env["AUTHGATE_PUBLIC_URL"] = public_url
    nginx = Nginx(render_nginx_site(NginxSiteOptions(
        domain="127.0.0.1", tls=tls, listen_host="127.0.0.1",  # type: ignore[arg-type]
        listen_port=port, authgate_upstream=f"127.0.0.1:{gateway.port}",
        log_dir=str(tmp_path))), tmp_path / "nginx", port)
    gateway.start()
    try:
        nginx.start()
        settings = load_settings(gateway.config, environ={"AUTHGATE_PUBLIC_URL": public_url})
        check = diagnose(settings)["public_url through the proxy"][0]
    finally:
        nginx.stop()
        gateway.stop()
    if tls == "none":
        assert check.ok and not check.warning, check
        assert "authgate sees http://127.0.0.1" in check.detail
    else:
        # The terminator's nginx says https; a public_url of http:// is then wrong.
        assert not check.ok
        assert "public_url is http:// but requests reach authgate as https://" in check.detail
