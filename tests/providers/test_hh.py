"""The hh.ru preset against the look-alike: each documented answer is classified correctly."""

from __future__ import annotations

import pytest

from authgate.protocol.rfc6749_oauth2 import TokenResponse
from authgate.providers import RefreshFailure
from tests.inprocess import InProcess, make_inprocess

pytestmark = pytest.mark.anyio


async def _pair(env: InProcess) -> dict[str, object]:
    grants = await env.control("hh/seed", {"count": 1, "expired": False})
    assert isinstance(grants, list)
    return grants[0]


async def _refused(env: InProcess, refresh_token: object) -> RefreshFailure:
    answer = await env.provider.refresh(env.runtime.http, str(refresh_token))
    assert isinstance(answer, RefreshFailure), "the provider refreshed the token"
    return answer


async def test_refresh_before_expiry_is_not_allowed_and_not_consumed(tmp_path):
    env = make_inprocess(tmp_path, access_lifetime=60)
    grant = await _pair(env)
    assert (await _refused(env, grant["refresh_token"])).verdict == "too_early"
    env.clock.advance(61)
    fresh = await env.provider.refresh(env.runtime.http, str(grant["refresh_token"]))
    assert isinstance(fresh, TokenResponse) and fresh.refresh_token
    assert fresh.expires_in == 60


async def test_reuse_revoked_deactivated_and_unknown_need_reauth(tmp_path):
    env = make_inprocess(tmp_path, access_lifetime=60)
    reused, revoked, deactivated = [await _pair(env) for _ in range(3)]
    env.clock.advance(61)
    await env.provider.refresh(env.runtime.http, str(reused["refresh_token"]))
    failure = await _refused(env, reused["refresh_token"])
    assert failure.verdict == "needs_reauth" and "already used" in failure.detail
    await env.control("hh/revoke", {"account_id": revoked["account_id"]})
    failure = await _refused(env, revoked["refresh_token"])
    assert failure.verdict == "needs_reauth" and "revoked" in failure.detail
    await env.control("hh/deactivate", {"account_id": deactivated["account_id"]})
    failure = await _refused(env, deactivated["refresh_token"])
    assert failure.verdict == "needs_reauth" and "password" in failure.detail
    assert (await _refused(env, "no-such-token")).verdict == "needs_reauth"


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
        failure = await _refused(env, grant["refresh_token"])
        assert failure.verdict == "transient", mode
        if mode == "429":
            assert failure.retry_after == 7
    # None of the failures consumed the token.
    fresh = await env.provider.refresh(env.runtime.http, str(grant["refresh_token"]))
    assert isinstance(fresh, TokenResponse) and fresh.access_token


async def test_application_token_is_asked_once_and_kept(tmp_path):
    env = make_inprocess(tmp_path)
    first = await env.runtime.vault.token("hh", "_application")
    second = await env.runtime.vault.token("hh", "_application")
    assert first.access_token == second.access_token and first.expires_at is None
    stats = await env.control("hh/stats")
    assert isinstance(stats, dict) and stats["app_tokens_issued"] == 1
