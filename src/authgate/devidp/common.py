"""Small helpers shared by both emulated providers."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from urllib.parse import urlsplit

from starlette.requests import Request

from authgate.protocol.urls import add_params_to_uri


def hh_style_token(prefix: str) -> str:
    """An opaque token shaped like hh.ru's: a 4-letter kind, then upper-case letters and digits."""
    return prefix + base64.b32encode(secrets.token_bytes(40)).decode("ascii")


def opaque_token(nbytes: int = 32) -> str:
    return secrets.token_urlsafe(nbytes)


def pkce_s256_matches(verifier: str, challenge: str) -> bool:
    """RFC 7636 S256: BASE64URL(SHA256(ASCII(verifier))) without padding equals the challenge."""
    digest = hashlib.sha256(verifier.encode("ascii", errors="replace")).digest()
    expected = base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
    return hmac.compare_digest(expected, challenge)


def with_query(url: str, params: dict[str, str]) -> str:
    """``url`` with ``params`` added to its query, keeping the parameters it already has."""
    return add_params_to_uri(url, params.items())


def is_loopback_http(url: str) -> bool:
    """True for http(s)://127.0.0.1, localhost or [::1] with any port and path."""
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and parts.hostname in ("127.0.0.1", "localhost", "::1")


def public_base(configured: str, request: Request) -> str:
    """scheme://host:port as clients see it: the configured base URL, else the request's own."""
    return (configured or str(request.base_url)).rstrip("/")


class EndpointError(Exception):
    """An OAuth endpoint's error answer: ``{"error", "error_description"}`` with ``status``."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(f"{error}: {description}")
        self.error = error
        self.description = description
        self.status = status
