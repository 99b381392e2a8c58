"""The configured providers, built once from the settings, and the one place where a provider's
kind decides what it can do.

Configuration checks that each kind has the fields it needs (``ProviderSettings``); everything
else that depends on the kind is declared in ``KINDS`` and read through ``Provider``'s
capabilities, so the vault, sign-in and sign-out never look at ``kind`` themselves.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

from authgate.config import ProviderKind, ProviderSettings, Settings
from authgate.protocol.refresh_policy import RefreshRule
from authgate.providers.base import Capabilities, Provider
from authgate.providers.hh import HeadHunterProvider
from authgate.providers.preset_provider import PresetProvider
from authgate.providers.presets import PRESETS, Preset


@dataclass(frozen=True)
class Kind:
    """What a kind of provider is, whatever its configuration."""

    preset: type[Provider]  # endpoints, headers, account, meaning of refresh errors
    openid: bool = False  # an OpenID issuer: people may sign in with it, and sign out there
    application_token: bool = False
    refresh_rule: RefreshRule | None = None  # fixed by the provider; None: the ``refresh`` key
    rules: Preset | None = None  # a data preset's rules (read by ``PresetProvider``)


KINDS: Mapping[ProviderKind, Kind] = {
    "oidc": Kind(Provider, openid=True),
    "oauth2": Kind(Provider),
    # hh.ru refuses a refresh before the access token has expired; its client_credentials
    # token never expires (and asking again revokes the previous one).
    "hh": Kind(HeadHunterProvider, application_token=True, refresh_rule="after_expiry"),
    # The presets' rules are data (``presets.PRESETS``); they all refresh ahead of expiry.
    **{name: Kind(PresetProvider, refresh_rule="ahead", rules=rules)
       for name, rules in PRESETS.items()},
}


def capabilities_of(conf: ProviderSettings) -> Capabilities:
    kind = KINDS[conf.kind]
    return Capabilities(
        sign_in=kind.openid and "login" in conf.use,
        # Connecting an OpenID issuer as an API account needs its token endpoint spelled out.
        connect="connect" in conf.use and (not kind.openid or bool(conf.token_url)),
        application_token=kind.application_token,
        refresh_rule=kind.refresh_rule or conf.refresh,
        end_session_method=conf.end_session_method if kind.openid else None,
    )


class Providers(Mapping[str, Provider]):
    """Every configured provider by name, in configuration order."""

    def __init__(self, providers: Iterable[Provider]) -> None:
        self._by_name = {p.name: p for p in providers}

    def __getitem__(self, name: str) -> Provider:
        return self._by_name[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._by_name)

    def __len__(self) -> int:
        return len(self._by_name)

    def __repr__(self) -> str:
        return f"Providers({list(self._by_name)})"

    def for_sign_in(self) -> Providers:
        """Those people sign in with."""
        return Providers(p for p in self._by_name.values() if p.can_sign_in)

    def for_connect(self) -> Providers:
        """Those bots connect API accounts with (the vault's)."""
        return Providers(p for p in self._by_name.values() if p.can_connect)


def build_provider(name: str, settings: Settings) -> Provider:
    conf = settings.providers[name]
    kind, redirect_uri, capabilities = (KINDS[conf.kind], settings.redirect_uri(name),
                                        capabilities_of(conf))
    if kind.rules is not None:
        return PresetProvider(name, conf, redirect_uri=redirect_uri, capabilities=capabilities,
                              preset=kind.rules)
    return kind.preset(name, conf, redirect_uri=redirect_uri, capabilities=capabilities)


def build_providers(settings: Settings) -> Providers:
    """One ``Provider`` per ``[providers.<name>]`` entry."""
    return Providers(build_provider(name, settings) for name in settings.providers)
