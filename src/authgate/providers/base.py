"""An OAuth2 API provider as the vault sees it: endpoints, headers, and what its errors mean."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from authgate.config import ProviderSettings
from authgate.errors import AuthgateError, FlowError, NeedsReauth, ProviderError, RefreshNotAllowed
from authgate.protocol.http_json import get_json_object
from authgate.protocol.refresh_policy import RefreshRule
from authgate.protocol.rfc6749_oauth2 import (
    OAuthErrorResponse,
    TokenResponse,
    authorization_url,
    request_token,
)


@dataclass(frozen=True)
class Account:
    """Who the connected account is at the provider (for people reading ``authgate status``)."""

    id: str | None
    name: str | None


class OAuth2Provider:
    """A generic RFC 6749 provider configured entirely from ``ProviderSettings``."""

    kind = "oauth2"

    def __init__(self, name: str, settings: ProviderSettings, redirect_uri: str) -> None:
        self.name = name
        self.settings = settings
        self.redirect_uri = redirect_uri

    # -- endpoints and headers --------------------------------------------------------------
    @property
    def display_name(self) -> str:
        return self.settings.display_name or self.name

    @property
    def authorize_endpoint(self) -> str:
        return self.settings.authorize_url

    @property
    def token_endpoint(self) -> str:
        return self.settings.token_url

    @property
    def scopes(self) -> list[str]:
        return list(self.settings.scopes or [])

    @property
    def uses_pkce(self) -> bool:
        return self.settings.pkce

    @property
    def refresh_rule(self) -> RefreshRule:
        return self.settings.refresh

    def headers(self) -> dict[str, str]:
        return {"Accept": "application/json"}

    # -- flows ------------------------------------------------------------------------------
    def authorize_url(self, *, state: str, code_challenge: str | None) -> str:
        return authorization_url(
            self.authorize_endpoint, client_id=self.settings.client_id,
            redirect_uri=self.redirect_uri, state=state, scopes=self.scopes,
            code_challenge=code_challenge if self.uses_pkce else None,
        )

    async def exchange_code(self, http: httpx.AsyncClient, code: str,
                            code_verifier: str | None) -> TokenResponse:
        form = {"grant_type": "authorization_code", "code": code,
                "redirect_uri": self.redirect_uri, **self._client_auth()}
        if code_verifier and self.uses_pkce:
            form["code_verifier"] = code_verifier
        try:
            return await request_token(http, self.token_endpoint, form, headers=self.headers())
        except OAuthErrorResponse as exc:
            # A refused code is a bad callback (reused, expired, forged), not a provider outage.
            raise FlowError(f"{self.display_name} refused the authorization code "
                            f"({exc.oauth_error}). Please start again.",
                            error="code_rejected") from None

    async def refresh(self, http: httpx.AsyncClient, refresh_token: str) -> TokenResponse:
        form = {"grant_type": "refresh_token", "refresh_token": refresh_token,
                **self._client_auth()}
        try:
            return await request_token(http, self.token_endpoint, form, headers=self.headers())
        except OAuthErrorResponse as exc:
            raise self.classify_refresh_error(exc) from None

    async def fetch_account(self, http: httpx.AsyncClient, access_token: str) -> Account:
        if not self.settings.userinfo_url:
            return Account(id=None, name=None)
        body = await self._get_json(http, self.settings.userinfo_url, access_token)
        return Account(id=_str(body.get("sub") or body.get("id")),
                       name=_str(body.get("name") or body.get("email") or body.get("login")))

    def classify_refresh_error(self, exc: OAuthErrorResponse) -> AuthgateError:
        """RFC 6749 §5.2: ``invalid_grant`` means the refresh token is dead; others may pass."""
        if exc.oauth_error == "invalid_grant":
            return NeedsReauth(exc.detail)
        return ProviderError(exc.detail, transient=True, error=exc.oauth_error)

    # -- helpers ----------------------------------------------------------------------------
    def _client_auth(self) -> dict[str, str]:
        auth = {"client_id": self.settings.client_id}
        if self.settings.client_secret:
            auth["client_secret"] = self.settings.client_secret
        return auth

    async def _get_json(self, http: httpx.AsyncClient, url: str,
                        access_token: str) -> dict[str, Any]:
        return await get_json_object(
            http, url, what="account", headers={**self.headers(),
                                                "Authorization": f"Bearer {access_token}"})


def _str(value: object) -> str | None:
    return None if value is None else str(value)


__all__ = ["Account", "OAuth2Provider", "RefreshNotAllowed"]
