"""GET a JSON object from a provider, turning every failure into a ``ProviderError``.

Shared by discovery, JWKS and userinfo so that the three classify failures the same way as
``rfc6749_oauth2.request_token``: network trouble, 429 and 5xx are transient; other statuses mean
the provider refused, which retrying will not fix.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import httpx

from authgate.errors import ProviderError
from authgate.protocol.http_errors import raise_for_unavailable, send


async def get_json_object(
    http: httpx.AsyncClient,
    url: str,
    *,
    what: str,
    headers: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """``what`` names the document in error details ("discovery document", "JWKS", ...)."""
    response = await send(http.get(url, headers=dict(headers or {})), what=what)
    return json_object_of(response, what=what)


async def post_form_json_object(
    http: httpx.AsyncClient,
    url: str,
    *,
    what: str,
    form: Mapping[str, str],
    headers: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The same for a form POST (VK ID's user_info takes the access token in the body)."""
    response = await send(http.post(url, data=dict(form), headers=dict(headers or {})),
                          what=what)
    return json_object_of(response, what=what)


def json_object_of(response: httpx.Response, *, what: str) -> dict[str, Any]:
    raise_for_unavailable(response, what=what)
    status = response.status_code
    if status != 200:
        # Redirects are not followed on purpose: a discovery document or JWKS must come from the
        # URL derived from the configured issuer, not from wherever a 3xx points.
        raise ProviderError(f"the provider answered HTTP {status} for its {what}",
                            transient=False, error="provider_bad_status")
    try:
        body = json.loads(response.content)
    except ValueError:
        raise ProviderError(f"the provider's {what} is not JSON", transient=True,
                            error="provider_bad_response") from None
    if not isinstance(body, dict):
        raise ProviderError(f"the provider's {what} is not a JSON object", transient=True,
                            error="provider_bad_response")
    return body
