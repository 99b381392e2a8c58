"""Where the demo lives: three loopback ports and one directory (its workspace).

Everything the demo keeps is in ``--dir`` (default ``./authgate-demo``): the gateway's SQLite
database and keyring, the devidp's state file (so tokens at the hh.ru look-alike and the vault's
connections stay consistent across restarts), and ``authgate.toml``. The config file is written on
every start from the command's options; it exists so that the other commands work against the
demo too (``authgate status --config authgate-demo/authgate.toml``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from authgate.devidp.cli import devidp_options
from authgate.devidp.options import DEV_BOT_TOKEN, DevIdpOptions

HOST = "127.0.0.1"
ADMIN_USERNAME = "admin"
DEMO_USER_AGENT = "AuthgateDemo/1.0 (demo@example.com)"
# ZITADEL puts project roles in this claim; the demo's Alice has "admin" there.
ZITADEL_ROLES_CLAIM = "urn:zitadel:iam:org:project:roles"


@dataclass(frozen=True)
class DemoLayout:
    directory: Path
    base_port: int
    hh_lifetime: float = 120.0

    @property
    def gateway_port(self) -> int:
        return self.base_port

    @property
    def devidp_port(self) -> int:
        return self.base_port + 1

    @property
    def panel_port(self) -> int:
        return self.base_port + 2

    @property
    def gateway_url(self) -> str:
        return f"http://{HOST}:{self.gateway_port}"

    @property
    def devidp_url(self) -> str:
        return f"http://{HOST}:{self.devidp_port}"

    @property
    def panel_url(self) -> str:
        return f"http://{HOST}:{self.panel_port}"

    @property
    def config_path(self) -> Path:
        return self.directory / "authgate.toml"

    @property
    def devidp_state(self) -> Path:
        return self.directory / "devidp-state.json"

    def config_text(self) -> str:
        # json.dumps gives valid TOML basic strings (escapes quotes and backslashes).
        q = json.dumps
        devidp = self.devidp_url
        return "\n".join([
            "# Written by `authgate demo` on every start: change the command's options instead.",
            f"public_url = {q(self.gateway_url)}",
            f"listen = {q(f'{HOST}:{self.gateway_port}')}",
            'data_dir = "."  # this directory',
            "",
            "[session]",
            'lifetime = "12h"',
            "",
            "[login]",
            "password = true",
            # The sample panel is another origin: ?next= may send people back to it.
            f"allowed_redirects = [{q(self.panel_url)}]",
            "",
            "[vault]",
            'refresh_jitter = "1s"',
            'http_timeout = "5s"',
            "",
            "[providers.zitadel]",
            'kind = "oidc"',
            'display_name = "ZITADEL (demo)"',
            f"issuer = {q(devidp + '/oidc')}",
            'client_id = "authgate-dev"',
            'client_secret = "dev-oidc-secret"',
            'scopes = ["openid", "email", "profile"]',
            'use = ["login"]',
            f"roles_claim = {q(ZITADEL_ROLES_CLAIM)}",
            'roles_map = { admin = "admin" }',
            "",
            "[providers.hh]",
            'kind = "hh"',
            'display_name = "HeadHunter (demo)"',
            'client_id = "DEVHHCLIENT"',
            'client_secret = "dev-hh-secret"',
            f"user_agent = {q(DEMO_USER_AGENT)}",
            'use = ["connect"]',
            f"authorize_url = {q(devidp + '/hh/oauth/authorize')}",
            f"token_url = {q(devidp + '/hh/token')}",
            f"api_base = {q(devidp + '/hh')}",
            "",
            # The devidp's Telegram look-alike: its messages are on {devidp}/telegram/chats.
            "[telegram]",
            f"bot_token = {q(DEV_BOT_TOKEN)}  # the look-alike's own, not a secret",
            f"api_base = {q(devidp + '/telegram')}",
            "",
        ])

    def write_config(self) -> Path:
        self.directory.mkdir(parents=True, exist_ok=True)
        self.directory.chmod(0o700)
        self.config_path.write_text(self.config_text(), encoding="utf-8")
        self.config_path.chmod(0o600)
        return self.config_path

    def devidp_options(self) -> DevIdpOptions:
        return devidp_options(base_url=self.devidp_url, gateway_url=self.gateway_url,
                              access_lifetime=self.hh_lifetime,
                              state_file=str(self.devidp_state))
