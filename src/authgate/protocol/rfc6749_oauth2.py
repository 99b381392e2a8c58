"""RFC 6749 — the authorization-code grant's two halves that every provider shares.

``authorization_url`` builds the front-channel redirect; ``request_token`` performs one call to a
token endpoint and turns every way it can go wrong into a ``ProviderError``: an RFC 6749 §5.2
error body as ``OAuthErrorResponse``, anything else (network, 429, 5xx, garbage) as a transient
one. Provider presets decide what an OAuth error *means* (see ``authgate.providers``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from authgate.errors import ProviderError
from authgate.protocol.http_errors import raise_for_unavailable, send
from authgate.protocol.urls import add_params_to_uri


@dataclass(frozen=True)
class TokenResponse:
    access_token: str
    token_type: str = "bearer"
    expires_in: int | None = None
    refresh_token: str | None = None
    scope: str | None = None
    id_token: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)


class OAuthErrorResponse(ProviderError):
    """The token endpoint answered with an RFC 6749 §5.2 error body.

    ``oauth_error`` and ``description`` are the provider's words; what they mean (try later, or
    connect again) is decided once, by the provider preset's ``classify_refresh_error``.
    """

    def __init__(self, oauth_error: str, description: str, status: int) -> None:
        text = f"{oauth_error}: {description}" if description else oauth_error
        super().__init__(text, transient=False, error=oauth_error)
        self.oauth_error = oauth_error
        self.description = description
        self.status = status


def authorization_url(
    endpoint: str,
    *,
    client_id: str,
    redirect_uri: str,
    state: str,
    scopes: Sequence[str] = (),
    code_challenge: str | None = None,
    extra: Mapping[str, str] | None = None,
) -> str:
    params: list[tuple[str, str]] = [
        ("response_type", "code"),
        ("client_id", client_id),
        ("redirect_uri", redirect_uri),
        ("state", state),
    ]
    if scopes:
        params.append(("scope", " ".join(scopes)))
    if code_challenge:
        params += [("code_challenge", code_challenge), ("code_challenge_method", "S256")]
    params += list((extra or {}).items())
    return add_params_to_uri(endpoint, params)


async def request_token(
    http: httpx.AsyncClient,
    token_url: str,
    form: Mapping[str, str],
    *,
    headers: Mapping[str, str] | None = None,
    auth: httpx.Auth | tuple[str, str] | None = None,
) -> TokenResponse:
    """POST ``form`` to the token endpoint and parse the answer.

    Raises ``OAuthErrorResponse`` for a well-formed OAuth error and a transient ``ProviderError``
    for everything else (network, timeouts, 5xx, 429, HTML, broken JSON).
    """
    response = await send(
        http.post(token_url, data=dict(form), headers=dict(headers or {}),
                  auth=auth if auth is not None else httpx.USE_CLIENT_DEFAULT),
        what="token endpoint")
    return parse_token_response(response)


def parse_token_response(response: httpx.Response) -> TokenResponse:
    raise_for_unavailable(response, what="token endpoint")
    status = response.status_code
    try:
        body = json.loads(response.content)
    except ValueError:
        raise ProviderError(f"token endpoint answered HTTP {status} without JSON",
                            transient=True, error="provider_bad_response") from None
    if not isinstance(body, dict):
        raise ProviderError("token endpoint answered JSON that is not an object",
                            transient=True, error="provider_bad_response")
    if status >= 400 or "error" in body:
        raise OAuthErrorResponse(str(body.get("error", f"http_{status}")),
                                 str(body.get("error_description", "")), status)
    access_token = body.get("access_token")
    if not isinstance(access_token, str) or not access_token:
        raise ProviderError("token endpoint answered without an access_token", transient=True,
                            error="provider_bad_response")
    expires_in = body.get("expires_in")
    try:
        expires = int(expires_in) if expires_in is not None else None
    except (TypeError, ValueError):
        expires = None
    known = {"access_token", "token_type", "expires_in", "refresh_token", "scope", "id_token"}
    return TokenResponse(
        access_token=access_token,
        token_type=str(body.get("token_type") or "bearer"),
        expires_in=expires,
        refresh_token=body.get("refresh_token") or None,
        scope=body.get("scope"),
        id_token=body.get("id_token"),
        extra={k: v for k, v in body.items() if k not in known},
    )
