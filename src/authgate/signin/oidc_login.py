"""Signing in with an OpenID provider: the relying-party flow, from redirect to a checked identity.

The protocol checks themselves live in ``authgate.protocol`` (discovery, JWKS, ID token, userinfo,
RFC 9207); this module strings them together for one configured provider and turns the result
into what the user store needs. Any ``kind = "oidc"`` issuer works; ZITADEL's role claims are
read when ``roles_claim`` names them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import anyio
import httpx

from authgate.clock import Clock
from authgate.config import LoginSettings
from authgate.errors import FlowError, NotFound, ProviderError
from authgate.flows import FlowRecord, FlowStore
from authgate.protocol.oidc_core import (
    build_authentication_request,
    exchange_code,
    fetch_userinfo,
    parse_authorization_response,
    validate_id_token,
)
from authgate.protocol.oidc_discovery import DiscoveryCache
from authgate.protocol.oidc_jwks import JwksCache
from authgate.protocol.oidc_roles import roles_from_claims
from authgate.protocol.oidc_rp_logout import EndSessionForm, end_session_form, end_session_url
from authgate.protocol.rfc6749_oauth2 import OAuthErrorResponse
from authgate.protocol.rfc7636_pkce import new_opaque_value, new_pkce_pair
from authgate.providers import Provider
from authgate.roles import map_role
from authgate.signin.users import Profile, provider_email

DEFAULT_SCOPES = ("openid", "email", "profile")
# Claims that describe the token, not the person: userinfo must not override them.
_TOKEN_CLAIMS = frozenset({"iss", "sub", "aud", "azp", "exp", "iat", "nbf", "nonce", "auth_time",
                           "at_hash", "c_hash", "acr", "amr", "sid", "jti"})
_OAUTH_ERROR = re.compile(r"^[a-z_]{1,40}$")


@dataclass(frozen=True)
class OidcIdentity:
    provider: str
    subject: str
    profile: Profile
    # The local role the provider's roles map to; None when the provider does not decide roles
    # (no ``roles_claim``), so that a role set by an administrator is kept.
    role: str | None
    # Kept with the session for sign-out (``id_token_hint``); never shown or logged.
    id_token: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class ProviderSignOut:
    """RP-initiated logout at the provider a session came from."""

    form: EndSessionForm  # POSTed by the browser, with id_token_hint (``post``)
    url: str  # the same request as a hint-less URL: the browser's redirect, or a panel's script
    provider_label: str
    post: bool  # the provider is configured for the form and the session kept an ID token


class OidcLogin:
    def __init__(self, providers: Mapping[str, Provider], login: LoginSettings,
                 http: httpx.AsyncClient, clock: Clock, flows: FlowStore) -> None:
        """``providers``: every configured one; signing out asks any of them that can."""
        self._providers = providers
        self._login = login
        self._http = http
        self._clock = clock
        self._flows = flows
        self.discovery = DiscoveryCache(http, clock)
        self.jwks = JwksCache(http, clock)

    def login_providers(self) -> list[tuple[str, str]]:
        """(name, display name) of every provider people can sign in with."""
        return [(name, p.display_name) for name, p in self._providers.items() if p.can_sign_in]

    def provider(self, name: str) -> Provider:
        provider = self._providers.get(name)
        if provider is None or not provider.can_sign_in:
            raise NotFound(f"there is no sign-in provider named {name!r}",
                           error="unknown_provider")
        return provider

    async def begin(self, name: str, *, redirect_uri: str, binding: str, next_url: str | None,
                    login_hint: str | None = None) -> str:
        """Record the flow (state, nonce, PKCE verifier) and return the provider's URL."""
        provider = self.provider(name)
        metadata = await self.discovery.get(provider.issuer)
        nonce, pkce, now = new_opaque_value(), new_pkce_pair(), self._clock.now()
        state = await anyio.to_thread.run_sync(lambda: self._flows.start(
            kind="login", provider=name, redirect_uri=redirect_uri, binding=binding, now=now,
            nonce=nonce, code_verifier=pkce.verifier, next_url=next_url))
        scopes = provider.scopes or list(DEFAULT_SCOPES)
        if "openid" not in scopes:
            scopes.insert(0, "openid")
        extra = {"login_hint": login_hint} if login_hint else None
        return build_authentication_request(
            metadata, client_id=provider.client_id, redirect_uri=redirect_uri, scopes=scopes,
            state=state, nonce=nonce, code_challenge=pkce.challenge, extra=extra)

    async def finish(self, name: str, params: Mapping[str, str],
                     flow: FlowRecord) -> OidcIdentity:
        """Check the callback, redeem the code, check the ID token and userinfo."""
        provider = self.provider(name)
        if not flow.nonce or not flow.code_verifier:
            raise FlowError("This sign-in attempt is incomplete. Please start again.",
                            error="invalid_state")
        metadata = await self.discovery.get(provider.issuer)
        # FlowStore.consume found this flow by its state and this browser's binding, so there
        # is no other copy of the state to compare with; this checks iss, error and the code.
        code = parse_authorization_response(params, expected_state=None, metadata=metadata)
        try:
            tokens = await exchange_code(
                self._http, metadata, client_id=provider.client_id,
                client_secret=provider.client_secret, code=code, redirect_uri=flow.redirect_uri,
                code_verifier=flow.code_verifier)
        except OAuthErrorResponse as exc:
            # invalid_grant: a replayed, expired or substituted code. The user can only retry.
            what = exc.oauth_error if _OAUTH_ERROR.match(exc.oauth_error) else "error"
            raise FlowError(f"The provider refused the sign-in code ({what}). Please start "
                            f"again.", error="code_refused") from None
        assert tokens.id_token is not None  # exchange_code refuses answers without one
        claims = await validate_id_token(
            tokens.id_token, metadata=metadata, jwks=self.jwks, client_id=provider.client_id,
            nonce=flow.nonce, clock=self._clock)
        merged = dict(claims)
        if metadata.userinfo_endpoint is not None:
            info = await fetch_userinfo(self._http, metadata, access_token=tokens.access_token,
                                        expected_sub=str(claims["sub"]))
            merged.update({k: v for k, v in info.items() if k not in _TOKEN_CLAIMS})
        return OidcIdentity(provider=name, subject=str(claims["sub"]),
                            profile=profile_from_claims(merged, provider.trust_email),
                            role=self._role(provider, merged),
                            id_token=tokens.id_token if provider.end_session_method == "post"
                            else None)

    def _role(self, provider: Provider, claims: Mapping[str, Any]) -> str | None:
        conf = provider.settings
        if not conf.roles_claim:
            return None
        roles = roles_from_claims(claims, conf.roles_claim)
        return map_role(roles, conf.roles_map, self._login.default_role)

    async def end_session(self, name: str, *, post_logout_redirect_uri: str,
                          id_token: str | None) -> ProviderSignOut | None:
        """The provider's end-session request; None when the provider has no such endpoint or
        cannot be reached (signing out here must not depend on the provider being up)."""
        provider = self._providers.get(name)
        if provider is None or provider.end_session_method is None:
            return None
        try:
            metadata = await self.discovery.get(provider.issuer)
        except ProviderError:
            return None
        hint = id_token if provider.end_session_method == "post" else None
        form = end_session_form(metadata, client_id=provider.client_id, id_token_hint=hint,
                                post_logout_redirect_uri=post_logout_redirect_uri)
        url = end_session_url(metadata, client_id=provider.client_id,
                              post_logout_redirect_uri=post_logout_redirect_uri)
        if form is None or url is None:
            return None
        return ProviderSignOut(form, url, provider.display_name, post=hint is not None)


def _text(claims: Mapping[str, Any], name: str, limit: int) -> str | None:
    value = claims.get(name)
    return value[:limit] if isinstance(value, str) and value else None


def profile_from_claims(claims: Mapping[str, Any], trust_email: bool = False) -> Profile:
    name = _text(claims, "name", 255)
    if name is None:
        parts = [_text(claims, "given_name", 120), _text(claims, "family_name", 120)]
        name = " ".join(p for p in parts if p) or _text(claims, "preferred_username", 255)
    picture = _text(claims, "picture", 2048)
    if picture is not None and not picture.startswith(("https://", "http://")):
        picture = None  # shown as <img src>: no javascript: or data: from a provider
    return Profile(email=provider_email(claims, trust_email=trust_email), name=name,
                   picture=picture)
