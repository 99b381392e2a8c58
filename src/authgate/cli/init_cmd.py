"""``authgate init``: a commented starting configuration, the data directory, keys, database."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from authgate.cli.common import EXIT_FAILURE, console, failures_exit, load, out

LOOPBACK = ("127.0.0.1", "localhost", "::1")
DEFAULT_LISTEN = "127.0.0.1:8000"

TEMPLATE = '''\
# authgate configuration. Every key can be overridden as AUTHGATE_<KEY> or
# AUTHGATE_<SECTION>__<KEY>; any secret can be given as <key>_file = "/path".
public_url = {public_url}     # the origin browsers see
listen = {listen}
data_dir = {data_dir}         # SQLite database and keyring.json (0700, files 0600)
# database_url = "postgresql://authgate:password@127.0.0.1/authgate"
trusted_proxies = ["127.0.0.1", "::1"]

[session]
lifetime = "7d"

[login]
password = true
default_role = "user"
allowed_redirects = []

# Sign-in with ZITADEL (or any OpenID Connect issuer):
# [providers.zitadel]
# kind = "oidc"
# display_name = "ZITADEL"
# issuer = "https://example-abc123.zitadel.cloud"
# client_id = "..."
# client_secret_file = "/etc/authgate/zitadel.secret"
# scopes = ["openid", "email", "profile"]
# roles_claim = "urn:zitadel:iam:org:project:roles"
# roles_map = {{ admin = "admin" }}

# Tokens for a HeadHunter (hh.ru) account:
# [providers.hh]
# kind = "hh"
# client_id = "..."
# client_secret_file = "/etc/authgate/hh.secret"
# user_agent = "MyJobBot/1.0 (me@example.com)"
# export_file = "/var/lib/hh-token/token.json"
'''


def listen_for(public_url: str) -> str:
    """Where ``serve`` listens: on a loopback public_url, that very address (nothing in front);
    otherwise loopback port 8000, behind the proxy that ``deploy nginx`` writes."""
    from urllib.parse import urlsplit
    parts = urlsplit(public_url)
    if parts.hostname in LOOPBACK:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        host = "[::1]" if parts.hostname == "::1" else "127.0.0.1"
        return f"{host}:{port}"
    return DEFAULT_LISTEN


def render_config(*, public_url: str, data_dir: str, listen: str | None = None) -> str:
    # json.dumps gives valid TOML basic strings (quotes and backslashes escaped).
    return TEMPLATE.format(public_url=json.dumps(public_url), data_dir=json.dumps(data_dir),
                           listen=json.dumps(listen or listen_for(public_url)))


def init(
    config: Annotated[Path, typer.Option("--config", "-c", help="file to write")] = Path(
        "authgate.toml"),
    public_url: Annotated[str, typer.Option(help="the origin browsers see")]
    = "http://127.0.0.1:8000",
    data_dir: Annotated[str, typer.Option(help="where data and keys live")] = "./authgate-data",
    listen: Annotated[str | None, typer.Option(
        help="HOST:PORT for `authgate serve` (default: public_url's own address when it is on "
             "loopback, else 127.0.0.1:8000 behind a proxy)")] = None,
) -> None:
    """Write a starting authgate.toml (never overwrites) and create data, keys and database."""
    from authgate.private_files import private_umask
    from authgate.runtime import Runtime

    private_umask()
    if config.exists():
        console.print(f"{config} exists; leaving it as it is")
    else:
        config.parent.mkdir(parents=True, exist_ok=True)
        config.write_text(render_config(public_url=public_url, data_dir=data_dir,
                                        listen=listen))
        out.print(f"wrote {config}")
    settings = load(config)
    with failures_exit():
        runtime = Runtime.open(settings)
        runtime.engine.dispose()
    if not settings.data_dir.exists():
        raise typer.Exit(EXIT_FAILURE)
    out.print(f"data directory {settings.data_dir} is ready (database migrated, keys created)",
              highlight=False, soft_wrap=True)
    where = "" if config == Path("authgate.toml") else f" --config {config}"
    steps = [(f"authgate users add NAME --role admin{where}", "the first administrator"),
             (f"authgate doctor{where}", "what is still missing"),
             (f"authgate serve{where}", f"listens on {settings.listen}")]
    width = max(len(command) for command, _ in steps)
    out.print("next:", highlight=False)
    for command, why in steps:
        out.print(f"  {command.ljust(width)}  # {why}", highlight=False, soft_wrap=True)
