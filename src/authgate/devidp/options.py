"""Settings of the development identity provider: demo people, clients, lifetimes.

Everything has a default so that ``DevIdpOptions(base_url=...)`` is a working provider pair.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

Clock = Callable[[], float]
"""Seconds since the epoch; tests pass their own to move time without sleeping."""

HH_ACCESS_LIFETIME = 1_209_600  # 14 days, what hh.ru documents as ``expires_in``


@dataclass
class HhAccount:
    """A person on the hh.ru look-alike, shaped like the fields of ``GET /me``."""

    id: str
    first_name: str
    last_name: str
    email: str
    middle_name: str | None = None
    is_applicant: bool = True
    is_employer: bool = False

    @property
    def display_name(self) -> str:
        return f"{self.first_name} {self.last_name}"


def _demo_accounts() -> list[HhAccount]:
    return [
        HhAccount("10000001", "Ivan", "Petrov", "ivan.petrov@example.com", "Sergeevich"),
        HhAccount("10000002", "Anna", "Smirnova", "anna.smirnova@example.com", "Olegovna"),
    ]


@dataclass
class HhOptions:
    client_id: str = "DEVHHCLIENT"
    client_secret: str = "dev-hh-secret"
    # hh.ru rule: a redirect URI may extend a registered one (sub-domain, sub-path, query).
    # The default is the gateway's default callback (public_url http://127.0.0.1:8000).
    redirect_uris: list[str] = field(
        default_factory=lambda: ["http://127.0.0.1:8000/auth/hh/callback"]
    )
    accounts: list[HhAccount] = field(default_factory=_demo_accounts)
    access_lifetime: float = HH_ACCESS_LIFETIME
    code_lifetime: float = 600.0
    # hh.ru refuses a new application token within 5 minutes of the previous one (403).
    app_token_min_interval: float = 300.0
    # When set, /hh/oauth/authorize signs this account in without showing the page.
    auto_approve_account: str | None = None
    # How long a "hang" fault keeps a request open; far beyond any sane client timeout.
    hang_seconds: float = 30.0


@dataclass
class OidcUser:
    """A person on the OIDC provider; ``roles`` become ZITADEL-style project role claims."""

    sub: str
    email: str
    name: str
    given_name: str = ""
    family_name: str = ""
    picture: str = ""
    roles: list[str] = field(default_factory=list)
    email_verified: bool = True
    locale: str = "en"


def _demo_users() -> list[OidcUser]:
    return [
        OidcUser(
            sub="310000000000000001",
            email="alice@example.com",
            name="Alice Admin",
            given_name="Alice",
            family_name="Admin",
            picture="https://example.com/avatars/alice.png",
            roles=["admin"],
        ),
        OidcUser(
            sub="310000000000000002",
            email="bob@example.com",
            name="Bob User",
            given_name="Bob",
            family_name="User",
            picture="https://example.com/avatars/bob.png",
            roles=["user"],
        ),
    ]


@dataclass
class OidcOptions:
    client_id: str = "authgate-dev"
    client_secret: str = "dev-oidc-secret"
    # Exact matches; plus any http://127.0.0.1|localhost|[::1] URI when the flag is on.
    redirect_uris: list[str] = field(default_factory=list)
    post_logout_redirect_uris: list[str] = field(default_factory=list)
    allow_any_loopback_redirect: bool = True
    project_id: str = "300000000000000001"
    org_id: str = "200000000000000001"
    org_domain: str = "example.com"
    users: list[OidcUser] = field(default_factory=_demo_users)
    access_lifetime: float = 3600.0
    id_token_lifetime: float = 3600.0
    refresh_lifetime: float = 30 * 86400.0
    code_lifetime: float = 600.0
    # ZITADEL's "assert roles on authentication": roles even without the roles scope.
    assert_roles: bool = True
    # When set (email or sub), /oidc/authorize signs this user in without showing the page.
    auto_approve_user: str | None = None


# A well-formed but made-up token: the look-alike answers only to it, like Telegram to a bot's own.
DEV_BOT_TOKEN = "7000000001:AAdevidp-look-alike-bot-token-0123456789"


@dataclass
class TelegramOptions:
    """The bot the Telegram Bot API look-alike serves (``getMe`` describes it)."""

    bot_token: str = DEV_BOT_TOKEN
    username: str = "authgate_dev_bot"
    first_name: str = "authgate dev bot"

    @property
    def bot_id(self) -> int:
        return int(self.bot_token.partition(":")[0])


@dataclass
class DevIdpOptions:
    # scheme://host:port the clients see; empty means "take it from each request".
    base_url: str = ""
    hh: HhOptions = field(default_factory=HhOptions)
    oidc: OidcOptions = field(default_factory=OidcOptions)
    telegram: TelegramOptions = field(default_factory=TelegramOptions)
    # When set, tokens, people and signing keys survive a restart.
    state_file: Path | None = None
    clock: Clock = time.time
