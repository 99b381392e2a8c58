"""Build the configured API providers (those whose ``use`` includes ``connect``)."""

from __future__ import annotations

from authgate.config import Settings
from authgate.providers.base import OAuth2Provider
from authgate.providers.hh import HeadHunterProvider


def connect_providers(settings: Settings) -> dict[str, OAuth2Provider]:
    providers: dict[str, OAuth2Provider] = {}
    for name, conf in settings.providers.items():
        if "connect" not in conf.use:
            continue
        cls = HeadHunterProvider if conf.kind == "hh" else OAuth2Provider
        if conf.kind == "oidc" and not conf.token_url:
            # Connecting an OIDC issuer as an API account needs its endpoints spelled out.
            continue
        providers[name] = cls(name, conf, settings.redirect_uri(name))
    return providers
