"""The hh.ru preset against the look-alike: each documented answer is classified correctly."""

from __future__ import annotations

import pytest

from authgate.errors import NeedsReauth, ProviderError, RefreshNotAllowed
from authgate.protocol.rfc6749_oauth2 import TokenResponse
from tests.inprocess import InProcess, make_inprocess

pytestmark = pytest.mark.anyio


async def _pair(env: InProcess) -> dict[str, object]:
    grants = await env.control("hh/seed", {"count": 1, "expired": False})
    assert isinstance(grants, list)
    return grants[0]


async def test_refresh_before_expiry_is_not_allowed_and_not_consumed(tmp_path):
    env = make_inprocess(tmp_path, access_lifetime=60)
    grant = await _pair(env)
    with pytest.raises(RefreshNotAllowed):
        await env.provider.refresh(env.runtime.http, str(grant["refresh_token"]))
    env.clock.advance(61)
    fresh = await env.provider.refresh(env.runtime.http, str(grant["refresh_token"]))
    assert isinstance(fresh, TokenResponse) and fresh.refresh_token
    assert fresh.expires_in == 60


async def test_reuse_revoked_deactivated_and_unknown_need_reauth(tmp_path):
    env = make_inprocess(tmp_path, access_lifetime=60)
    reused, revoked, deactivated = [await _pair(env) for _ in range(3)]
    env.clock.advance(61)
    await env.provider.refresh(env.runtime.http, str(reused["refresh_token"]))
    with pytest.raises(NeedsReauth, match="already used"):
        await env.provider.refresh(env.runtime.http, str(reused["refresh_token"]))
    await env.control("hh/revoke", {"account_id": revoked["account_id"]})
    with pytest.raises(NeedsReauth, match="revoked"):
        await env.provider.refresh(env.runtime.http, str(revoked["refresh_token"]))
    await env.control("hh/deactivate", {"account_id": deactivated["account_id"]})
    with pytest.raises(NeedsReauth, match="password"):
        await env.provider.refresh(env.runtime.http, str(deactivated["refresh_token"]))
    with pytest.raises(NeedsReauth):
        await env.provider.refresh(env.runtime.http, "no-such-token")


async def test_every_request_carries_the_user_agent(tmp_path):
    env = make_inprocess(tmp_path)
    grant = await _pair(env)
    account = await env.provider.fetch_account(env.runtime.http, str(grant["access_token"]))
    assert account.id == grant["account_id"] and account.name
    stats = await env.control("hh/stats")
    assert isinstance(stats, dict) and stats["bad_user_agent"] == 0


async def test_provider_outage_is_transient(tmp_path):
    env = make_inprocess(tmp_path, access_lifetime=1)
    grant = await _pair(env)
    env.clock.advance(2)
    for mode in ("500", "html", "badjson", "429"):
        await env.control("hh/faults", {"mode": mode, "count": 1, "retry_after": 7})
        with pytest.raises(ProviderError) as info:
            await env.provider.refresh(env.runtime.http, str(grant["refresh_token"]))
        assert info.value.transient, mode
        if mode == "429":
            assert info.value.retry_after == 7
    # None of the failures consumed the token.
    assert (await env.provider.refresh(env.runtime.http, str(grant["refresh_token"]))).access_token


async def test_application_token_is_asked_once_and_kept(tmp_path):
    env = make_inprocess(tmp_path)
    first = await env.runtime.vault.token("hh", "_application")
    second = await env.runtime.vault.token("hh", "_application")
    assert first.access_token == second.access_token and first.expires_at is None
    stats = await env.control("hh/stats")
    assert isinstance(stats, dict) and stats["app_tokens_issued"] == 1
