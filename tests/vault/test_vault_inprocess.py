"""The vault's decisions with the clock under the test's control (no sleeping)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from authgate.errors import NeedsReauth
from authgate.protocol.rfc6749_oauth2 import TokenResponse
from authgate.providers.base import Account
from authgate.vault.engine import refresh_due
from tests.inprocess import InProcess, make_inprocess

pytestmark = pytest.mark.anyio


async def _connect(env: InProcess, owner: str) -> None:
    grants = await env.control("hh/seed", {"count": 1, "expired": False})
    assert isinstance(grants, list)
    g = grants[0]
    await env.runtime.vault.store_new_connection(
        env.provider, owner,
        TokenResponse(access_token=g["access_token"], refresh_token=g["refresh_token"],
                      expires_in=g["expires_in"]),
        Account(id=g["account_id"], name=None))


async def test_hh_is_refreshed_right_after_expiry_never_before(tmp_path):
    env = make_inprocess(tmp_path, access_lifetime=100)
    await _connect(env, "a")
    vault = env.runtime.vault
    conn = vault.store.get("hh", "a")
    assert conn and conn.next_refresh_at == conn.expires_at
    env.clock.advance(99)
    assert await refresh_due(vault) == {"ok": 0, "retry": 0, "needs_reauth": 0}
    before = (await vault.token("hh", "a")).access_token
    env.clock.advance(1)
    assert (await refresh_due(vault))["ok"] == 1
    after = await vault.token("hh", "a")
    assert after.access_token != before
    assert after.expires_at == env.clock.now() + timedelta(seconds=100)
    stats = await env.control("hh/stats")
    assert isinstance(stats, dict)
    assert stats["token_not_expired"] == 0 and stats["already_refreshed"] == 0


async def test_concurrent_requests_share_one_refresh(tmp_path):
    env = make_inprocess(tmp_path, access_lifetime=10)
    await _connect(env, "b")
    env.clock.advance(11)
    tokens = await asyncio.gather(*(env.runtime.vault.token("hh", "b") for _ in range(50)))
    assert len({t.access_token for t in tokens}) == 1
    stats = await env.control("hh/stats")
    assert isinstance(stats, dict) and stats["refreshes_ok"] == 1


async def test_transient_failure_backs_off_then_recovers(tmp_path):
    env = make_inprocess(tmp_path, access_lifetime=10)
    await _connect(env, "c")
    env.clock.advance(11)
    await env.control("hh/faults", {"mode": "500", "count": 1})
    counts = await refresh_due(env.runtime.vault)
    assert counts["retry"] == 1
    conn = env.runtime.vault.store.get("hh", "c")
    assert conn and conn.status == "active" and conn.attempts == 1 and conn.last_error
    assert conn.next_refresh_at and conn.next_refresh_at > env.clock.now()
    assert (await refresh_due(env.runtime.vault))["ok"] == 0  # backing off
    env.clock.advance(700)
    assert (await refresh_due(env.runtime.vault))["ok"] == 1
    conn = env.runtime.vault.store.get("hh", "c")
    assert conn and conn.attempts == 0 and conn.last_error is None


async def test_revoked_connection_needs_reauth_with_reason(tmp_path):
    env = make_inprocess(tmp_path, access_lifetime=10)
    await _connect(env, "d")
    conn = env.runtime.vault.store.get("hh", "d")
    assert conn and conn.account_id
    await env.control("hh/revoke", {"account_id": conn.account_id})
    env.clock.advance(11)
    with pytest.raises(NeedsReauth, match="revoked"):
        await env.runtime.vault.token("hh", "d")
    conn = env.runtime.vault.store.get("hh", "d")
    assert conn and conn.status == "needs_reauth" and conn.next_refresh_at is None


async def test_key_rotation_reencrypts_while_tokens_stay_readable(tmp_path):
    env = make_inprocess(tmp_path)
    await _connect(env, "e")
    before = await env.runtime.vault.token("hh", "e")
    old_kid = env.runtime.keyring.current_kid
    new_kid = env.runtime.keyring.rotate()
    assert new_kid != old_kid
    assert env.runtime.vault.store.reencrypt_all() == 1
    assert (await env.runtime.vault.token("hh", "e")).access_token == before.access_token
    assert env.runtime.vault.store.reencrypt_all() == 0
