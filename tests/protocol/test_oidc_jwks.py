from __future__ import annotations

import asyncio

import httpx
import pytest

from authgate.clock import FrozenClock
from authgate.errors import ProviderError
from authgate.protocol.oidc_jwks import JwksCache
from tests.protocol.fake_idp import ISSUER, FakeIdp, rsa_key

pytestmark = pytest.mark.anyio

JWKS_URI = f"{ISSUER}/jwks"


async def test_known_kid_served_from_cache(idp: FakeIdp, clock: FrozenClock) -> None:
    cache = JwksCache(idp.http, clock)
    keys = await cache.key_set(JWKS_URI, kid="k1")
    assert [k.kid for k in keys] == ["k1"]
    await cache.key_set(JWKS_URI, kid="k1")
    await cache.key_set(JWKS_URI, kid=None)
    assert idp.hits["/jwks"] == 1


async def test_refetched_after_max_age(idp: FakeIdp, clock: FrozenClock) -> None:
    cache = JwksCache(idp.http, clock, max_age=600)
    await cache.key_set(JWKS_URI, kid="k1")
    idp.published = [rsa_key("k2")]  # k1 withdrawn
    clock.advance(600)
    keys = await cache.key_set(JWKS_URI, kid="k1")
    assert idp.hits["/jwks"] == 2
    assert [k.kid for k in keys] == ["k2"]


async def test_unknown_kid_refetch_is_rate_limited(idp: FakeIdp, clock: FrozenClock) -> None:
    cache = JwksCache(idp.http, clock, min_refetch_interval=30)
    await cache.key_set(JWKS_URI, kid="k1")
    await cache.key_set(JWKS_URI, kid="forged")
    assert idp.hits["/jwks"] == 1  # the set was fetched just now: no point asking again
    clock.advance(30)
    for _ in range(3):
        await cache.key_set(JWKS_URI, kid="forged")
    assert idp.hits["/jwks"] == 2  # the first unknown kid refetched, the others did not
    clock.advance(30)
    await cache.key_set(JWKS_URI, kid="forged")
    assert idp.hits["/jwks"] == 3


async def test_concurrent_unknown_kids_share_one_refetch(idp: FakeIdp, clock: FrozenClock) -> None:
    cache = JwksCache(idp.http, clock)
    await cache.key_set(JWKS_URI, kid="k1")
    clock.advance(60)
    idp.delay = 0.02
    await asyncio.gather(*(cache.key_set(JWKS_URI, kid=f"forged-{i}") for i in range(5)))
    assert idp.hits["/jwks"] == 2


async def test_concurrent_first_fetch_is_shared(idp: FakeIdp, clock: FrozenClock) -> None:
    idp.delay = 0.02
    cache = JwksCache(idp.http, clock)
    await asyncio.gather(*(cache.key_set(JWKS_URI, kid="k1") for _ in range(5)))
    assert idp.hits["/jwks"] == 1


async def test_concurrent_callers_wait_for_the_rotation(idp: FakeIdp, clock: FrozenClock) -> None:
    cache = JwksCache(idp.http, clock)
    await cache.key_set(JWKS_URI, kid="k1")
    clock.advance(60)
    idp.published = [rsa_key("k2")]
    idp.delay = 0.02
    results = await asyncio.gather(*(cache.key_set(JWKS_URI, kid="k2") for _ in range(5)))
    assert idp.hits["/jwks"] == 2
    assert all([k.kid for k in keys] == ["k2"] for keys in results)


async def test_garbage_jwks_is_a_provider_error(clock: FrozenClock) -> None:
    http = httpx.AsyncClient(transport=httpx.MockTransport(
        lambda request: httpx.Response(200, json={"keys": [{"kty": "RSA", "n": 1}]})))
    with pytest.raises(ProviderError) as caught:
        await JwksCache(http, clock).key_set(JWKS_URI, kid=None)
    assert caught.value.error == "provider_bad_jwks"


async def test_transport_failure_is_transient(idp: FakeIdp, clock: FrozenClock) -> None:
    idp.fail_with = httpx.ReadTimeout("slow")
    with pytest.raises(ProviderError) as caught:
        await JwksCache(idp.http, clock).key_set(JWKS_URI, kid="k1")
    assert (caught.value.error, caught.value.transient) == ("provider_timeout", True)
