"""One configured provider: what it can do, and how to talk to it.

``Provider`` is the generic behaviour (RFC 6749 for API accounts; an OpenID issuer's endpoints
come from discovery in ``authgate.signin``). Presets such as hh.ru subclass it for their
endpoints, headers, account and the meaning of their refresh errors. What a provider *can do*
(``Capabilities``) is decided from its kind in one place, ``authgate.providers.registry``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import httpx

from authgate.config import ProviderSettings
from authgate.errors import FlowError, ProviderError
from authgate.protocol.http_json import get_json_object
from authgate.protocol.refresh_policy import RefreshRule
from authgate.protocol.rfc6749_oauth2 import (
    OAuthErrorResponse,
    TokenResponse,
    authorization_url,
    request_token,
)

EndSessionMethod = Literal["get", "post"]
# What a failed refresh means, for the vault:
# * ``too_early``: the provider's rules forbid a refresh yet; the refresh token was not used;
# * ``transient``: no usable answer (network, 429, 5xx, garbage, a refusal that may pass);
# * ``needs_reauth``: the refresh token is dead; only the owner connecting again helps.
RefreshVerdict = Literal["too_early", "transient", "needs_reauth"]


@dataclass(frozen=True)
class Account:
    """Who the connected account is at the provider (for people reading ``authgate status``)."""

    id: str | None
    name: str | None


@dataclass(frozen=True)
class Capabilities:
    """What one configured provider can do; see ``registry.capabilities_of``."""

    sign_in: bool  # people sign in with it (OpenID Connect relying party)
    connect: bool  # bots connect accounts with it (the vault keeps and refreshes their tokens)
    application_token: bool  # a client_credentials token kept under the application owner
    refresh_rule: RefreshRule  # when its refresh tokens may be used
    end_session_method: EndSessionMethod | None  # RP-initiated logout; None: no such thing


@dataclass(frozen=True)
class RefreshFailure:
    """A refresh that gave no new token: what the provider's answer means, decided once."""

    verdict: RefreshVerdict
    error: str  # a short code: the provider's OAuth error, or ours for a transport failure
    detail: str  # a readable sentence; never a secret
    retry_after: float | None = None  # the provider's own hint, in seconds


class Provider:
    """One ``[providers.<name>]`` entry, built once by ``build_providers``."""

    def __init__(self, name: str, settings: ProviderSettings, *, redirect_uri: str,
                 capabilities: Capabilities) -> None:
        self.name = name
        self.settings = settings
        self.redirect_uri = redirect_uri
        self.capabilities = capabilities

    # -- what it can do ---------------------------------------------------------------------
    @property
    def can_sign_in(self) -> bool:
        return self.capabilities.sign_in

    @property
    def can_connect(self) -> bool:
        return self.capabilities.connect

    @property
    def has_application_token(self) -> bool:
        return self.capabilities.application_token

    @property
    def refresh_rule(self) -> RefreshRule:
        return self.capabilities.refresh_rule

    @property
    def end_session_method(self) -> EndSessionMethod | None:
        return self.capabilities.end_session_method

    # -- identity, endpoints and headers ----------------------------------------------------
    @property
    def trust_email(self) -> bool:
        """The provider verifies every email it hands out (no ``email_verified`` needed)."""
        return self.settings.trust_email

    @property
    def display_name(self) -> str:
        return self.settings.display_name or self.name

    @property
    def callback_path(self) -> str:
        """The configured callback path ("" when the default ``/auth/{name}/callback``)."""
        return self.settings.callback_path

    @property
    def client_id(self) -> str:
        return self.settings.client_id

    @property
    def client_secret(self) -> str:
        return self.settings.client_secret

    @property
    def issuer(self) -> str:
        return self.settings.issuer

    @property
    def authorize_endpoint(self) -> str:
        return self.settings.authorize_url

    @property
    def token_endpoint(self) -> str:
        return self.settings.token_url

    @property
    def refresh_endpoint(self) -> str:
        """Where refresh requests go (the token endpoint, unless a provider has another)."""
        return self.settings.refresh_url or self.token_endpoint

    @property
    def scopes(self) -> list[str]:
        return list(self.settings.scopes or [])

    @property
    def uses_pkce(self) -> bool:
        return self.settings.pkce

    @property
    def api_base(self) -> str:
        """Where the provider's API lives ("" when not configured), without a trailing slash."""
        return self.settings.api_base.rstrip("/")

    @property
    def stale_token_statuses(self) -> frozenset[int]:
        """The API's answers to an expired or unknown access token (RFC 6750 §3.1: 401)."""
        return frozenset({401})

    def headers(self) -> dict[str, str]:
        return {"Accept": "application/json"}

    def authorization(self, access_token: str) -> str:
        """The ``Authorization`` header value that presents an access token to the API."""
        return f"Bearer {access_token}"

    # -- what a provider adds to the standard requests ---------------------------------------
    def authorize_params(self) -> dict[str, str]:
        """Parameters of the authorize redirect beyond RFC 6749's and PKCE's."""
        return {}

    def connection_extras(self, callback: Mapping[str, str]) -> dict[str, str]:
        """Values of the callback to keep with the connection and send back on refresh."""
        return {}

    def exchange_fields(self, callback: Mapping[str, str]) -> dict[str, str]:
        """Fields the code exchange needs beyond RFC 6749's, from the callback's parameters."""
        return {}

    def refresh_fields(self, extras: Mapping[str, str]) -> dict[str, str]:
        """Fields a refresh needs beyond RFC 6749's, from the connection's ``extras``."""
        return {}

    # -- flows ------------------------------------------------------------------------------
    def authorize_url(self, *, state: str, code_challenge: str | None) -> str:
        return authorization_url(
            self.authorize_endpoint, client_id=self.client_id,
            redirect_uri=self.redirect_uri, state=state, scopes=self.scopes,
            code_challenge=code_challenge if self.uses_pkce else None,
            extra=self.authorize_params(),
        )

    async def exchange_code(self, http: httpx.AsyncClient, code: str,
                            code_verifier: str | None,
                            callback: Mapping[str, str] | None = None) -> TokenResponse:
        """``callback``: the callback's query parameters (some providers want some back)."""
        form = {"grant_type": "authorization_code", "code": code,
                "redirect_uri": self.redirect_uri, **self._client_auth(),
                **self.exchange_fields(callback or {})}
        if code_verifier and self.uses_pkce:
            form["code_verifier"] = code_verifier
        try:
            return await request_token(http, self.token_endpoint, form, headers=self.headers())
        except OAuthErrorResponse as exc:
            # A refused code is a bad callback (reused, expired, forged), not a provider outage.
            raise FlowError(f"{self.display_name} refused the authorization code "
                            f"({exc.oauth_error}). Please start again.",
                            error="code_rejected") from None

    async def refresh(self, http: httpx.AsyncClient, refresh_token: str,
                      extras: Mapping[str, str] | None = None) -> TokenResponse | RefreshFailure:
        """One refresh request: the new tokens, or what the failure means. Never raises for
        anything the provider (or the network to it) does. ``extras``: the connection's."""
        form = {"grant_type": "refresh_token", "refresh_token": refresh_token,
                **self._client_auth(), **self.refresh_fields(extras or {})}
        try:
            return await request_token(http, self.refresh_endpoint, form,
                                       headers=self.headers())
        except OAuthErrorResponse as exc:
            return self.classify_refresh_error(exc)
        except ProviderError as exc:
            return RefreshFailure("transient" if exc.transient else "needs_reauth", exc.error,
                                  exc.detail, exc.retry_after)

    def classify_refresh_error(self, exc: OAuthErrorResponse) -> RefreshFailure:
        """RFC 6749 §5.2: ``invalid_grant`` means the refresh token is dead; others may pass."""
        if exc.oauth_error == "invalid_grant":
            return RefreshFailure("needs_reauth", exc.oauth_error, exc.detail)
        return RefreshFailure("transient", exc.oauth_error, exc.detail)

    async def application_token(self, http: httpx.AsyncClient) -> TokenResponse:
        """A client_credentials token (RFC 6749 §4.4), for providers with that capability."""
        form = {"grant_type": "client_credentials", **self._client_auth()}
        try:
            return await request_token(http, self.token_endpoint, form, headers=self.headers())
        except OAuthErrorResponse as exc:
            raise ProviderError(f"{self.display_name} refused the application token: "
                                f"{exc.detail}", transient=False, error=exc.oauth_error) from None

    async def fetch_account(self, http: httpx.AsyncClient, access_token: str) -> Account:
        if not self.settings.userinfo_url:
            return Account(id=None, name=None)
        body = await self._get_json(http, self.settings.userinfo_url, access_token)
        return Account(id=_str(body.get("sub") or body.get("id")),
                       name=_str(body.get("name") or body.get("email") or body.get("login")))

    # -- helpers ----------------------------------------------------------------------------
    def _client_auth(self) -> dict[str, str]:
        auth = {"client_id": self.client_id}
        if self.client_secret:
            auth["client_secret"] = self.client_secret
        return auth

    async def _get_json(self, http: httpx.AsyncClient, url: str,
                        access_token: str) -> dict[str, Any]:
        return await get_json_object(
            http, url, what="account", headers={**self.headers(),
                                                "Authorization": self.authorization(access_token)})


def _str(value: object) -> str | None:
    return None if value is None else str(value)
