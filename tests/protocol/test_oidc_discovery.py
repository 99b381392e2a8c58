from __future__ import annotations

import asyncio

import httpx
import pytest

from authgate.clock import FrozenClock
from authgate.errors import ProviderError
from authgate.protocol.oidc_discovery import DiscoveryCache, ProviderMetadata, discovery_url
from tests.protocol.fake_idp import ISSUER, FakeIdp

pytestmark = pytest.mark.anyio

WELL_KNOWN = "/.well-known/openid-configuration"


async def test_fetches_and_parses_metadata(idp: FakeIdp, clock: FrozenClock) -> None:
    metadata = await DiscoveryCache(idp.http, clock).get(ISSUER)
    assert metadata.issuer == ISSUER
    assert metadata.token_endpoint == f"{ISSUER}/token"
    assert metadata.jwks_uri == f"{ISSUER}/jwks"
    assert metadata.end_session_endpoint == f"{ISSUER}/logout"
    assert metadata.id_token_signing_alg_values_supported == ("RS256", "ES256")
    assert metadata.code_challenge_methods_supported == ("S256",)
    assert metadata.authorization_response_iss_parameter_supported is True
    assert metadata.raw["response_types_supported"] == ["code"]
    assert str(idp.requests[0].url) == f"{ISSUER}{WELL_KNOWN}"


async def test_cached_then_refreshed_after_ttl(idp: FakeIdp, clock: FrozenClock) -> None:
    cache = DiscoveryCache(idp.http, clock, ttl=100)
    await cache.get(ISSUER)
    clock.advance(99)
    await cache.get(ISSUER)
    assert idp.hits[WELL_KNOWN] == 1
    clock.advance(1)
    await cache.get(ISSUER)
    assert idp.hits[WELL_KNOWN] == 2


async def test_concurrent_callers_share_one_fetch(idp: FakeIdp, clock: FrozenClock) -> None:
    idp.delay = 0.02  # the first fetch is still in flight when the others ask
    cache = DiscoveryCache(idp.http, clock)
    results = await asyncio.gather(*(cache.get(ISSUER) for _ in range(5)))
    assert idp.hits[WELL_KNOWN] == 1
    assert all(r is results[0] for r in results)


async def test_issuer_mismatch_refused(idp: FakeIdp, clock: FrozenClock) -> None:
    idp.discovery["issuer"] = "https://evil.example"
    with pytest.raises(ProviderError) as caught:
        await DiscoveryCache(idp.http, clock).get(ISSUER)
    assert caught.value.error == "provider_issuer_mismatch"
    assert caught.value.transient is False


async def test_trailing_slash_difference_refused_with_hint(
    idp: FakeIdp, clock: FrozenClock,
) -> None:
    idp.discovery["issuer"] = ISSUER + "/"
    with pytest.raises(ProviderError) as caught:
        await DiscoveryCache(idp.http, clock).get(ISSUER)
    assert caught.value.error == "provider_issuer_mismatch"
    assert "configure the issuer exactly as 'https://idp.example/'" in caught.value.detail


def test_discovery_url_drops_trailing_slash() -> None:
    assert discovery_url("https://a.example/realms/x/") == \
        f"https://a.example/realms/x{WELL_KNOWN}"


async def test_transport_failure_is_transient(idp: FakeIdp, clock: FrozenClock) -> None:
    idp.fail_with = httpx.ConnectError("refused")
    with pytest.raises(ProviderError) as caught:
        await DiscoveryCache(idp.http, clock).get(ISSUER)
    assert caught.value.transient is True
    assert caught.value.error == "provider_unreachable"


async def test_server_error_is_transient_not_found_is_not(idp: FakeIdp, clock: FrozenClock) -> None:
    idp.status[WELL_KNOWN] = 503
    with pytest.raises(ProviderError) as caught:
        await DiscoveryCache(idp.http, clock).get(ISSUER)
    assert (caught.value.error, caught.value.transient) == ("provider_unavailable", True)
    idp.status[WELL_KNOWN] = 404
    with pytest.raises(ProviderError) as caught:
        await DiscoveryCache(idp.http, clock).get(ISSUER)
    assert (caught.value.error, caught.value.transient) == ("provider_bad_status", False)


async def test_failed_fetch_is_not_cached(idp: FakeIdp, clock: FrozenClock) -> None:
    cache = DiscoveryCache(idp.http, clock)
    idp.status[WELL_KNOWN] = 500
    with pytest.raises(ProviderError):
        await cache.get(ISSUER)
    del idp.status[WELL_KNOWN]
    assert (await cache.get(ISSUER)).issuer == ISSUER


@pytest.mark.parametrize(("field", "value"), [
    ("authorization_endpoint", "javascript:alert(1)"),
    ("token_endpoint", "/relative/token"),
    ("jwks_uri", None),
    ("id_token_signing_alg_values_supported", "RS256"),
])
def test_bad_metadata_refused(field: str, value: object) -> None:
    document = {"issuer": ISSUER, "authorization_endpoint": f"{ISSUER}/a",
                "token_endpoint": f"{ISSUER}/t", "jwks_uri": f"{ISSUER}/j", field: value}
    with pytest.raises(ProviderError) as caught:
        ProviderMetadata.from_document(document, expected_issuer=ISSUER)
    assert caught.value.error == "provider_bad_metadata"


def test_defaults_when_not_advertised() -> None:
    metadata = ProviderMetadata.from_document(
        {"issuer": ISSUER, "authorization_endpoint": f"{ISSUER}/a", "token_endpoint": f"{ISSUER}/t",
         "jwks_uri": f"{ISSUER}/j"}, expected_issuer=ISSUER)
    assert metadata.id_token_signing_alg_values_supported == ("RS256",)
    assert metadata.authorization_response_iss_parameter_supported is False
    assert metadata.end_session_endpoint is None
