"""A provider whose rules come from a ``Preset`` (``presets.py``): the one reader of that data.

Configured endpoints (``authorize_url``, ``token_url``, ``refresh_url``, ``api_base``,
``userinfo_url``) override the preset's, for emulators and mirrors; ``scopes`` replaces the
default scopes; ``pkce = false`` is honoured only where the provider does not require PKCE.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from authgate.config import ProviderSettings
from authgate.errors import FlowError
from authgate.protocol.http_json import post_form_json_object
from authgate.protocol.rfc6749_oauth2 import OAuthErrorResponse
from authgate.protocol.rfc7636_pkce import new_opaque_value
from authgate.providers.base import Account, Capabilities, Provider, RefreshFailure
from authgate.providers.presets import Preset

# A callback value longer than this is not a provider's identifier but garbage.
MAX_EXTRA_LENGTH = 512


class PresetProvider(Provider):
    def __init__(self, name: str, settings: ProviderSettings, *, redirect_uri: str,
                 capabilities: Capabilities, preset: Preset) -> None:
        super().__init__(name, settings, redirect_uri=redirect_uri, capabilities=capabilities)
        self.preset = preset

    # -- endpoints and identity -------------------------------------------------------------
    @property
    def display_name(self) -> str:
        return self.settings.display_name or self.preset.display_name

    @property
    def authorize_endpoint(self) -> str:
        return self.settings.authorize_url or self.preset.authorize_url

    @property
    def token_endpoint(self) -> str:
        return self.settings.token_url or self.preset.token_url

    @property
    def refresh_endpoint(self) -> str:
        return self.settings.refresh_url or self.preset.refresh_url or self.token_endpoint

    @property
    def api_base(self) -> str:
        return (self.settings.api_base or self.preset.api_base).rstrip("/")

    @property
    def scopes(self) -> list[str]:
        return list(self.settings.scopes if self.settings.scopes is not None
                    else self.preset.scopes)

    @property
    def uses_pkce(self) -> bool:
        if self.preset.pkce == "required":
            return True
        return self.preset.pkce == "supported" and self.settings.pkce

    @property
    def account_url(self) -> str:
        url = self.settings.userinfo_url or self.preset.account.url
        return f"{self.api_base}{url}" if url.startswith("/") else url

    def headers(self) -> dict[str, str]:
        own = {k: v.replace("{client_secret}", self.client_secret)
               for k, v in self.preset.headers.items()}
        return {**super().headers(), **own}

    def authorization(self, access_token: str) -> str:
        return f"{self.preset.auth_scheme} {access_token}"

    # -- what the preset adds to the standard requests --------------------------------------
    def authorize_params(self) -> dict[str, str]:
        return dict(self.preset.authorize_params)

    def connection_extras(self, callback: Mapping[str, str]) -> dict[str, str]:
        extras = {}
        for key in self.preset.callback_extras:
            value = callback.get(key, "")
            if not value or len(value) > MAX_EXTRA_LENGTH:
                raise FlowError(f"{self.display_name} sent no usable {key} with the code. "
                                "Please start again.", error=f"missing_{key}")
            extras[key] = value
        return extras

    def exchange_fields(self, callback: Mapping[str, str]) -> dict[str, str]:
        fields = self.connection_extras(callback)
        if self.preset.state_on_token_requests and callback.get("state"):
            fields["state"] = callback["state"]
        return fields

    def refresh_fields(self, extras: Mapping[str, str]) -> dict[str, str]:
        fields = {k: extras[k] for k in self.preset.callback_extras if k in extras}
        if self.preset.state_on_token_requests:
            fields["state"] = new_opaque_value()
        return fields

    def classify_refresh_error(self, exc: OAuthErrorResponse) -> RefreshFailure:
        if exc.oauth_error in self.preset.dead_refresh_errors:
            return RefreshFailure("needs_reauth", exc.oauth_error,
                                  f"{self.display_name} refused the refresh token "
                                  f"({exc.oauth_error}: {exc.description})"[:300])
        return RefreshFailure("transient", exc.oauth_error,
                              f"{self.display_name}: {exc.oauth_error} {exc.description}"[:300])

    # -- the account ------------------------------------------------------------------------
    async def fetch_account(self, http: httpx.AsyncClient, access_token: str) -> Account:
        lookup = self.preset.account
        if lookup.method == "post_form":
            body = await post_form_json_object(
                http, self.account_url, what="account", headers=self.headers(),
                form={"access_token": access_token, "client_id": self.client_id})
        else:
            body = await self._get_json(http, self.account_url, access_token)
        names = (" ".join(v for v in (_text(_at(body, p)) for p in entry.split()) if v)
                 for entry in lookup.names)
        return Account(id=_text(_at(body, lookup.id)) or None,
                       name=next((n for n in names if n), None))


def _at(body: Any, path: str) -> Any:
    for key in path.split("."):
        if not isinstance(body, dict):
            return None
        body = body.get(key)
    return body


def _text(value: Any) -> str:
    return "" if value is None or isinstance(value, dict | list) else str(value)
