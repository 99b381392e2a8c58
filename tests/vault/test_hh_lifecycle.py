"""Connect hh.ru once, get fresh tokens forever: against the look-alike over real HTTP."""

from __future__ import annotations

import concurrent.futures
import json
import stat
import threading

import httpx

from tests.harness import assert_no_secrets, bound, connect_hh


def test_connect_token_expiry_refresh_without_rule_violations(stack_factory):
    stack = stack_factory()
    page = connect_hh(stack.gateway.url, stack.api_key, owner="tg:12345")
    assert page.status_code == 200 and "Ivan Petrov" in page.text

    api = httpx.Client(base_url=stack.gateway.url, headers=stack.auth)
    first = api.get("/api/v1/connections/hh/tg:12345/token")
    assert first.status_code == 200, first.text
    token1 = first.json()["access_token"]
    # The token works at the provider.
    me = httpx.get(f"{stack.devidp.url}/hh/me", headers={
        "Authorization": f"Bearer {token1}", "HH-User-Agent": "T/1.0 (t@example.com)"})
    assert me.status_code == 200

    stack.expire_tokens()  # past the lifetime: the engine or the request refreshes it
    second = api.get("/api/v1/connections/hh/tg:12345/token")
    assert second.status_code == 200, second.text
    token2 = second.json()["access_token"]
    assert token2 != token1
    me2 = httpx.get(f"{stack.devidp.url}/hh/me", headers={
        "Authorization": f"Bearer {token2}", "HH-User-Agent": "T/1.0 (t@example.com)"})
    assert me2.status_code == 200

    stats = stack.devidp.hh_stats()
    assert stats["refreshes_ok"] >= 1
    assert stats["token_not_expired"] == 0
    assert stats["already_refreshed"] == 0

    listing = api.get("/api/v1/connections").json()["items"]
    assert [(c["provider"], c["owner"], c["status"]) for c in listing] == [
        ("hh", "tg:12345", "active")]
    assert listing[0]["account"] == "Ivan Petrov"

    assert_no_secrets([stack.gateway.log_text()], [token1, token2, stack.api_key])


def test_fifty_concurrent_requests_at_expiry_share_one_refresh(stack_factory):
    stack = stack_factory()
    connect_hh(stack.gateway.url, stack.api_key, owner="burst")
    url = f"{stack.gateway.url}/api/v1/connections/hh/burst/token"
    # One client shared by 50 threads: 50 connections ready before the moment of expiry.
    client = httpx.Client(headers=stack.auth, timeout=bound(30),
                          limits=httpx.Limits(max_connections=60))
    start = threading.Barrier(50)

    def at_expiry(_: int) -> httpx.Response:
        start.wait()
        return client.get(url)

    # Counted before expiry: whether the engine or the burst triggers it, exactly one refresh.
    before = stack.devidp.hh_stats()["refreshes_ok"]
    stack.expire_tokens()
    with concurrent.futures.ThreadPoolExecutor(50) as pool:
        answers = list(pool.map(at_expiry, range(50)))
    assert all(a.status_code == 200 for a in answers), {a.status_code for a in answers}
    tokens = {a.json()["access_token"] for a in answers}
    stats = stack.devidp.hh_stats()
    assert stats["refreshes_ok"] - before == 1
    assert len(tokens) == 1
    assert stats["already_refreshed"] == 0 and stats["token_not_expired"] == 0


def test_revoked_at_provider_needs_reauth_others_unaffected(stack_factory):
    stack = stack_factory()
    connect_hh(stack.gateway.url, stack.api_key, owner="alice", account="10000001")
    connect_hh(stack.gateway.url, stack.api_key, owner="bob", account="10000002")
    stack.devidp.control("hh/revoke", {"account_id": "10000001"})
    stack.expire_tokens()  # the vault learns of the revocation when it next refreshes
    api = httpx.Client(base_url=stack.gateway.url, headers=stack.auth, timeout=bound(30))
    alice = api.get("/api/v1/connections/hh/alice/token")
    assert alice.status_code == 409
    assert alice.json()["error"] == "needs_reauth"
    assert "revoked" in alice.json()["detail"]
    bob = api.get("/api/v1/connections/hh/bob/token")
    assert bob.status_code == 200
    states = {c["owner"]: c["status"] for c in api.get("/api/v1/connections").json()["items"]}
    assert states == {"alice": "needs_reauth", "bob": "active"}


def test_reconnect_replaces_tokens_and_delete_forgets(stack_factory):
    stack = stack_factory()
    api = httpx.Client(base_url=stack.gateway.url, headers=stack.auth)
    connect_hh(stack.gateway.url, stack.api_key, owner="x", account="10000001")
    t1 = api.get("/api/v1/connections/hh/x/token").json()["access_token"]
    connect_hh(stack.gateway.url, stack.api_key, owner="x", account="10000002")
    t2 = api.get("/api/v1/connections/hh/x/token").json()["access_token"]
    assert t1 != t2
    assert [c["account"] for c in api.get("/api/v1/connections").json()["items"]] == [
        "Anna Smirnova"]
    assert api.delete("/api/v1/connections/hh/x").status_code == 204
    assert api.get("/api/v1/connections/hh/x/token").status_code == 404
    assert api.delete("/api/v1/connections/hh/x").status_code == 404


def test_files_are_private_and_export_has_no_refresh_token(stack_factory, tmp_path):
    export = tmp_path / "export" / "token.json"
    stack = stack_factory(extra=f'export_file = "{export}"\n')
    connect_hh(stack.gateway.url, stack.api_key, owner="default")
    data = json.loads(export.read_text())
    assert set(data) == {"access_token", "token_type", "expires_in", "expires_at"}
    token = httpx.get(f"{stack.gateway.url}/api/v1/connections/hh/default/token",
                      headers=stack.auth).json()["access_token"]
    assert data["access_token"] == token
    for path in (export, stack.gateway.data_dir / "authgate.db",
                 stack.gateway.data_dir / "keyring.json"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert stat.S_IMODE(stack.gateway.data_dir.stat().st_mode) == 0o700


def test_api_requires_a_valid_key(stack_factory):
    stack = stack_factory()
    base = stack.gateway.url
    assert httpx.get(f"{base}/api/v1/connections").status_code == 401
    bad = httpx.get(f"{base}/api/v1/connections", headers={"Authorization": "Bearer nope"})
    assert bad.status_code == 401 and bad.json()["error"] == "invalid_api_key"
    key_id = stack.gateway.cli("apikey", "list").stdout
    assert "tests" in key_id
    stack.gateway.cli("apikey", "revoke", "1")
    revoked = httpx.get(f"{base}/api/v1/connections", headers=stack.auth)
    assert revoked.status_code == 401
