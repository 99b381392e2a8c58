"""The token route on the wire, shared by the sync and the async client: its path, its answer,
and its errors (JSON ``{"error": code, "detail": text}``) as exceptions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote

import httpx

from authgate_vault_client.errors import (
    AuthgateError,
    Conflict,
    Forbidden,
    InvalidRequest,
    NeedsReauth,
    NotFound,
    RateLimited,
    Unauthorized,
    Unavailable,
)


@dataclass(frozen=True)
class Token:
    """An access token valid when the vault gave it. ``expires_in`` counts seconds from then."""

    access_token: str
    token_type: str
    expires_at: datetime | None
    expires_in: int | None = None


def token_path(provider: str, owner: str) -> str:
    return f"/api/v1/connections/{quote(provider, safe='')}/{quote(owner, safe='')}/token"


def proxy_path(provider: str, owner: str) -> str:
    """The proxy's address for one owner's calls; API paths go after it (``me``, ``/me``)."""
    return f"/api/v1/proxy/{quote(provider, safe='')}/{quote(owner, safe='')}/"


def token_from(response: httpx.Response) -> Token:
    """The token in a 200 answer; any other answer raises the matching ``AuthgateError``."""
    body = _json(response)
    if response.status_code != 200 or body is None or "access_token" not in body:
        raise error_from(response, body)
    expires_at, expires_in = body.get("expires_at"), body.get("expires_in")
    return Token(
        access_token=str(body["access_token"]), token_type=str(body.get("token_type") or ""),
        expires_at=(datetime.fromisoformat(str(expires_at).replace("Z", "+00:00"))
                    if expires_at else None),
        expires_in=(int(expires_in) if isinstance(expires_in, int | float)
                    and not isinstance(expires_in, bool) else None),
    )


# The code decides first (409 alone is ambiguous); the status covers codes this client does not
# know and answers that are not authgate's own JSON (a proxy's 502 page, say).
_BY_CODE: dict[str, type[AuthgateError]] = {
    "needs_reauth": NeedsReauth, "not_found": NotFound, "unauthorized": Unauthorized,
    "forbidden": Forbidden, "conflict": Conflict, "invalid_request": InvalidRequest,
    "rate_limited": RateLimited, "provider_unavailable": Unavailable,
}
_BY_STATUS: dict[int, type[AuthgateError]] = {
    400: InvalidRequest, 401: Unauthorized, 403: Forbidden, 404: NotFound, 409: Conflict,
    429: RateLimited, 502: Unavailable, 503: Unavailable, 504: Unavailable,
}


def error_from(response: httpx.Response, body: dict[str, Any] | None = None) -> AuthgateError:
    body = body if body is not None else _json(response)
    status = response.status_code
    error = str(body.get("error") or f"http_{status}") if body else f"http_{status}"
    detail = str(body.get("detail") or response.reason_phrase) if body else response.reason_phrase
    if status == 200:  # a 200 without a token: not an authgate token answer at all
        error, detail = "invalid_response", "the answer has no access_token"
    cls = _BY_CODE.get(error) or _BY_STATUS.get(status) or AuthgateError
    if issubclass(cls, RateLimited | Unavailable):
        retry = retry_after_seconds(response.headers.get("retry-after"))
        return cls(detail, error=error, status=status, retry_after=retry)
    return cls(detail, error=error, status=status)


def _json(response: httpx.Response) -> dict[str, Any] | None:
    try:
        body = response.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def retry_after_seconds(value: str | None) -> float | None:
    """Retry-After is either delta-seconds or an HTTP date (RFC 9110 §10.2.3)."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())
