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
from authgate.protocol.rfc6749_oauth2 import retry_after_seconds


async def get_json_object(
    http: httpx.AsyncClient,
    url: str,
    *,
    what: str,
    headers: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """``what`` names the document in error details ("discovery document", "JWKS", ...)."""
    try:
        response = await http.get(url, headers=dict(headers or {}))
    except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
        raise ProviderError(f"cannot reach the provider for its {what} ({type(exc).__name__})",
                            transient=True, error="provider_unreachable",
                            request_reached_provider=False) from None
    except httpx.HTTPError as exc:
        raise ProviderError(f"no answer from the provider for its {what} ({type(exc).__name__})",
                            transient=True, error="provider_timeout") from None
    status = response.status_code
    if status == 429 or status >= 500:
        raise ProviderError(f"the provider answered HTTP {status} for its {what}", transient=True,
                            error="provider_unavailable",
                            retry_after=retry_after_seconds(response.headers.get("retry-after")))
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
