"""``authgate init``: a commented starting configuration, the data directory, keys, database."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from authgate.cli.common import EXIT_FAILURE, console, failures_exit, load, out, private_umask
from authgate.runtime import Runtime

TEMPLATE = '''\
# authgate configuration. Every key can be overridden as AUTHGATE_<KEY> or
# AUTHGATE_<SECTION>__<KEY>; any secret can be given as <key>_file = "/path".
public_url = "{public_url}"     # the origin browsers see
listen = "127.0.0.1:8000"
data_dir = "{data_dir}"         # SQLite database and keyring.json (0700, files 0600)
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


def init(
    config: Annotated[Path, typer.Option("--config", "-c", help="file to write")] = Path(
        "authgate.toml"),
    public_url: Annotated[str, typer.Option(help="the origin browsers see")]
    = "http://127.0.0.1:8000",
    data_dir: Annotated[str, typer.Option(help="where data and keys live")] = "./authgate-data",
) -> None:
    """Write a starting authgate.toml (never overwrites) and create data, keys and database."""
    private_umask()
    if config.exists():
        console.print(f"{config} exists; leaving it as it is")
    else:
        config.write_text(TEMPLATE.format(public_url=public_url, data_dir=data_dir))
        out.print(f"wrote {config}")
    settings = load(config)
    with failures_exit():
        runtime = Runtime.open(settings)
        runtime.engine.dispose()
    if not settings.data_dir.exists():
        raise typer.Exit(EXIT_FAILURE)
    out.print(f"data directory {settings.data_dir} is ready (database migrated, keys created)")
    out.print("next: add providers to the file, then `authgate doctor` and `authgate serve`")
