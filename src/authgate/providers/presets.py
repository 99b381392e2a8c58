"""Presets: the documented rules of well-known OAuth 2 providers, as data.

A preset is what ``kind = "<name>"`` brings to a ``[providers.<name>]`` entry: endpoints, default
scopes, extra authorize parameters, PKCE, the headers the API wants, how the account is read,
what the callback hands over that refreshes need back, and which token-endpoint errors mean the
refresh token is dead. ``PresetProvider`` (``preset_provider.py``) is the one piece of code that
reads them. Refresh tokens are kept when a refresh answer has none (Google's rule, RFC 6749 §6)
and replaced when it has one (GitHub Apps, VK ID, Yandex sometimes): the vault does that for
every provider, so it needs no field here.

Sources: each provider's public documentation (see README, "Providers", for what was checked
against documentation only). hh.ru keeps its own module (``hh.py``): its rules are not data.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

from authgate.config import PresetKind

Pkce = Literal["required", "supported", "unsupported"]


@dataclass(frozen=True)
class AccountLookup:
    """How to ask the provider who the connected account is.

    ``url`` is absolute, or a path under the provider's ``api_base``. ``method = "post_form"``
    sends the access token and client_id in a form body instead of a header (VK ID's way).
    ``id`` and each of ``names`` are dotted paths into the JSON answer; a name entry may join
    several paths with spaces ("user.first_name user.last_name"); the first non-empty wins.
    """

    url: str
    id: str
    names: tuple[str, ...]
    method: Literal["get", "post_form"] = "get"


@dataclass(frozen=True)
class Preset:
    display_name: str
    authorize_url: str
    token_url: str
    account: AccountLookup
    refresh_url: str = ""  # "": the token endpoint
    api_base: str = ""  # "": none (the proxy then needs api_base configured)
    scopes: tuple[str, ...] = ()
    authorize_params: Mapping[str, str] = field(default_factory=dict)
    pkce: Pkce = "supported"
    # The scheme that presents an access token to the API ("Bearer", Yandex's "OAuth").
    auth_scheme: str = "Bearer"
    # Headers on every call to the provider; "{client_secret}" stands for the configured secret.
    headers: Mapping[str, str] = field(default_factory=dict)
    # Callback parameters kept with the connection and sent back on every token request.
    callback_extras: tuple[str, ...] = ()
    # Send a fresh ``state`` with each refresh, and the callback's with the code exchange.
    state_on_token_requests: bool = False
    # Token-endpoint errors after which only the owner connecting again helps.
    dead_refresh_errors: frozenset[str] = frozenset({"invalid_grant"})


def _frozen(values: dict[str, str]) -> Mapping[str, str]:
    return MappingProxyType(values)


PRESETS: Mapping[PresetKind, Preset] = MappingProxyType({
    # Google: a refresh token only with access_type=offline, and on a second consent only
    # with prompt=consent; a refresh answer carries no new refresh token (the old one stays).
    "google": Preset(
        display_name="Google",
        authorize_url="https://accounts.google.com/o/oauth2/v2/auth",
        token_url="https://oauth2.googleapis.com/token",
        api_base="https://www.googleapis.com",
        scopes=("openid", "email", "profile"),
        authorize_params=_frozen({"access_type": "offline", "prompt": "consent"}),
        account=AccountLookup("https://openidconnect.googleapis.com/v1/userinfo", id="sub",
                              names=("name", "email")),
    ),
    # GitHub (OAuth Apps and GitHub Apps share the endpoints): an OAuth App's token never
    # expires and has no refresh token; a GitHub App with expiring user tokens gets expires_in
    # (8 h), a refresh_token that rotates on use, refresh_token_expires_in (6 months). The
    # token endpoint answers form-encoded unless asked for JSON, and errors with HTTP 200.
    "github": Preset(
        display_name="GitHub",
        authorize_url="https://github.com/login/oauth/authorize",
        token_url="https://github.com/login/oauth/access_token",
        api_base="https://api.github.com",
        scopes=("read:user",),
        account=AccountLookup("/user", id="id", names=("name", "login")),
        headers=_frozen({"Accept": "application/json"}),
        dead_refresh_errors=frozenset({"invalid_grant", "bad_refresh_token"}),
    ),
    # Yandex ID: scopes are chosen when the app is registered (none needed here); the refresh
    # answer has a refresh token that may or may not be new; the API takes "OAuth <token>".
    "yandex": Preset(
        display_name="Yandex ID",
        authorize_url="https://oauth.yandex.ru/authorize",
        token_url="https://oauth.yandex.ru/token",
        api_base="https://login.yandex.ru",
        auth_scheme="OAuth",
        account=AccountLookup("/info?format=json", id="id",
                              names=("display_name", "real_name", "login")),
    ),
    # VK ID (OAuth 2.1): PKCE and state required; the callback brings device_id, which the
    # code exchange and every refresh must send back, each refresh with a state of its own.
    # Access tokens live an hour; the refresh token is replaced by each refresh.
    "vk": Preset(
        display_name="VK ID",
        authorize_url="https://id.vk.com/authorize",
        token_url="https://id.vk.com/oauth2/auth",
        api_base="https://api.vk.com",
        scopes=("vkid.personal_info",),
        pkce="required",
        callback_extras=("device_id",),
        state_on_token_requests=True,
        account=AccountLookup("https://id.vk.com/oauth2/user_info", id="user.user_id",
                              names=("user.first_name user.last_name", "user.email"),
                              method="post_form"),
    ),
    # SuperJob: its own authorize page and token endpoints (refresh apart); every API call
    # carries the application's secret key as X-Api-App-Id.
    "superjob": Preset(
        display_name="SuperJob",
        authorize_url="https://www.superjob.ru/authorize/",
        token_url="https://api.superjob.ru/2.0/oauth2/access_token/",
        refresh_url="https://api.superjob.ru/2.0/oauth2/refresh_token/",
        api_base="https://api.superjob.ru/2.0",
        pkce="unsupported",
        headers=_frozen({"X-Api-App-Id": "{client_secret}"}),
        account=AccountLookup("/user/current/", id="id", names=("name", "email")),
    ),
})


def preset_for(kind: str) -> Preset | None:
    """The preset a provider kind names (None for oidc, oauth2 and hh)."""
    return next((rules for name, rules in PRESETS.items() if name == kind), None)
