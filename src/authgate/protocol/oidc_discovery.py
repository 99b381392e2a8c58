"""OpenID Connect Discovery 1.0 — provider metadata, fetched once and cached.

Issuer comparison follows Discovery §4.3 to the letter: the document's ``issuer`` must be
*identical* to the configured one, trailing slash included. Tolerating a slash difference would
make ``iss`` checks on ID tokens (Core §3.1.3.7, also an exact compare) fail later in a more
confusing place, so the mismatch is refused here with a detail that says which value to configure.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any
from urllib.parse import urlsplit

import httpx

from authgate.clock import Clock
from authgate.errors import ProviderError
from authgate.protocol.http_json import get_json_object

WELL_KNOWN_PATH = "/.well-known/openid-configuration"


@dataclass(frozen=True, kw_only=True)
class ProviderMetadata:
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    userinfo_endpoint: str | None = None
    end_session_endpoint: str | None = None
    # Discovery makes this field REQUIRED; when a provider omits it anyway we assume RS256, the
    # algorithm Core §3.1.3.7 makes the default and every OP must support.
    id_token_signing_alg_values_supported: tuple[str, ...] = ("RS256",)
    # Empty means "not advertised"; the meaning of absence (client_secret_basic for auth methods)
    # is applied where the value is used, so the metadata stays a faithful copy of the document.
    token_endpoint_auth_methods_supported: tuple[str, ...] = ()
    code_challenge_methods_supported: tuple[str, ...] = ()
    authorization_response_iss_parameter_supported: bool = False
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False, hash=False)

    @classmethod
    def from_document(
        cls, document: Mapping[str, Any], *, expected_issuer: str,
    ) -> ProviderMetadata:
        """Validate a discovery document against the configured issuer."""
        issuer = document.get("issuer")
        if issuer != expected_issuer:
            hint = ""
            if isinstance(issuer, str) and issuer.rstrip("/") == expected_issuer.rstrip("/"):
                hint = f"; configure the issuer exactly as {issuer!r}"
            raise ProviderError(
                f"the discovery document names issuer {issuer!r}, not the configured "
                f"{expected_issuer!r}{hint}",
                transient=False, error="provider_issuer_mismatch")
        algs = _str_tuple(document, "id_token_signing_alg_values_supported")
        return cls(
            issuer=expected_issuer,
            authorization_endpoint=_required_url(document, "authorization_endpoint"),
            token_endpoint=_required_url(document, "token_endpoint"),
            jwks_uri=_required_url(document, "jwks_uri"),
            userinfo_endpoint=_optional_url(document, "userinfo_endpoint"),
            end_session_endpoint=_optional_url(document, "end_session_endpoint"),
            id_token_signing_alg_values_supported=algs or ("RS256",),
            token_endpoint_auth_methods_supported=_str_tuple(
                document, "token_endpoint_auth_methods_supported"),
            code_challenge_methods_supported=_str_tuple(
                document, "code_challenge_methods_supported"),
            authorization_response_iss_parameter_supported=(
                document.get("authorization_response_iss_parameter_supported") is True),
            raw=MappingProxyType(dict(document)),
        )


def discovery_url(issuer: str) -> str:
    # Discovery §4: a terminating "/" is removed before appending the well-known path.
    return (issuer[:-1] if issuer.endswith("/") else issuer) + WELL_KNOWN_PATH


class DiscoveryCache:
    """Provider metadata per issuer, refreshed after ``ttl`` seconds.

    Concurrent callers for the same issuer wait on one lock, so a burst of logins after start or
    after expiry causes a single fetch. A failed refresh raises instead of serving stale metadata:
    a sign-in needs the provider anyway, and stale endpoints would only fail later.
    """

    def __init__(self, http: httpx.AsyncClient, clock: Clock, ttl: float = 3600) -> None:
        self._http = http
        self._clock = clock
        self._ttl = ttl
        self._entries: dict[str, tuple[ProviderMetadata, datetime]] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def get(self, issuer: str) -> ProviderMetadata:
        cached = self._fresh(issuer)
        if cached is not None:
            return cached
        lock = self._locks.setdefault(issuer, asyncio.Lock())
        async with lock:
            # Another caller may have refreshed while this one waited.
            cached = self._fresh(issuer)
            if cached is not None:
                return cached
            document = await get_json_object(self._http, discovery_url(issuer),
                                             what="discovery document")
            metadata = ProviderMetadata.from_document(document, expected_issuer=issuer)
            self._entries[issuer] = (metadata, self._clock.now())
            return metadata

    def invalidate(self, issuer: str) -> None:
        self._entries.pop(issuer, None)

    def _fresh(self, issuer: str) -> ProviderMetadata | None:
        entry = self._entries.get(issuer)
        if entry is None:
            return None
        metadata, fetched_at = entry
        if (self._clock.now() - fetched_at).total_seconds() >= self._ttl:
            return None
        return metadata


def _bad_metadata(detail: str) -> ProviderError:
    return ProviderError(detail, transient=False, error="provider_bad_metadata")


def _required_url(document: Mapping[str, Any], name: str) -> str:
    url = _optional_url(document, name)
    if url is None:
        raise _bad_metadata(f"the discovery document has no {name}")
    return url


def _optional_url(document: Mapping[str, Any], name: str) -> str | None:
    value = document.get(name)
    if value is None:
        return None
    # Endpoints end up in browser redirects: anything but an absolute http(s) URL (a
    # ``javascript:`` URL, a relative path) is refused rather than passed on.
    parts = urlsplit(value) if isinstance(value, str) else None
    if parts is None or parts.scheme not in ("https", "http") or not parts.netloc:
        raise _bad_metadata(f"the discovery document's {name} is not an absolute http(s) URL")
    return str(value)


def _str_tuple(document: Mapping[str, Any], name: str) -> tuple[str, ...]:
    value = document.get(name)
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise _bad_metadata(f"the discovery document's {name} is not a list of strings")
    return tuple(value)
