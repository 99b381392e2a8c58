"""The hh.ru look-alike, over real HTTP: hh.ru's documented rules and wording."""

from __future__ import annotations

import concurrent.futures
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from authgate.devidp import DevIdpOptions, HhOptions
from tests.harness import bound, wait_until

from .conftest import GOOD_UA, TLS, RunningDevIdp, pkce_pair

CALLBACK = "http://127.0.0.1:9999/auth/hh/callback"
LIFETIME = 3600.0
CLIENT = {"client_id": "DEVHHCLIENT", "client_secret": "dev-hh-secret"}
IVAN = "10000001"


@pytest.fixture
def idp(make_devidp: Callable[..., RunningDevIdp]) -> RunningDevIdp:
    return make_devidp(
        DevIdpOptions(hh=HhOptions(redirect_uris=[CALLBACK], access_lifetime=LIFETIME))
    )


def authorize(client: httpx.Client, **params: str) -> httpx.Response:
    query = {"response_type": "code", "client_id": "DEVHHCLIENT", "state": "st-1", **params}
    return client.get("/hh/oauth/authorize", params=query)


def redirect_params(resp: httpx.Response) -> dict[str, str]:
    assert resp.status_code == 302, resp.text
    location = resp.headers["location"]
    assert location.startswith(CALLBACK)
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def connect(idp: RunningDevIdp, account: str = IVAN) -> dict[str, Any]:
    client = idp.client()
    verifier, challenge = pkce_pair()
    code = redirect_params(
        authorize(
            client,
            login_hint=account,
            code_challenge=challenge,
            code_challenge_method="S256",
            redirect_uri=CALLBACK,
        )
    )["code"]
    resp = client.post(
        "/hh/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": CALLBACK,
            "code_verifier": verifier,
            **CLIENT,
        },
    )
    assert resp.status_code == 200, resp.text
    return dict(resp.json())


def refresh(client: httpx.Client, token: str) -> httpx.Response:
    return client.post("/hh/token", data={"grant_type": "refresh_token", "refresh_token": token})


def assert_error(resp: httpx.Response, error: str, description: str, status: int = 400) -> None:
    assert resp.status_code == status, resp.text
    assert resp.json() == {"error": error, "error_description": description}


def me(client: httpx.Client, token: str) -> httpx.Response:
    return client.get("/hh/me", headers={"Authorization": f"Bearer {token}"})


def test_code_exchange_with_pkce_and_me(idp: RunningDevIdp) -> None:
    tokens = connect(idp)
    assert tokens["token_type"] == "bearer"
    assert tokens["expires_in"] == int(LIFETIME)
    assert tokens["access_token"].startswith("USER") and tokens["refresh_token"]
    resp = me(idp.client(), tokens["access_token"])
    assert resp.status_code == 200
    body = resp.json()
    assert (body["id"], body["first_name"], body["last_name"]) == (IVAN, "Ivan", "Petrov")
    assert body["email"] == "ivan.petrov@example.com" and body["is_application"] is False
    assert idp.control("/_devidp/hh/stats")["codes_exchanged"] == 1


def test_code_rules(idp: RunningDevIdp) -> None:
    client = idp.client()
    verifier, challenge = pkce_pair()

    def new_code() -> str:
        resp = authorize(
            client, login_hint=IVAN, code_challenge=challenge, code_challenge_method="S256"
        )
        params = redirect_params(resp)
        assert params["state"] == "st-1"
        return params["code"]

    def exchange(code: str, **extra: str) -> httpx.Response:
        data = {"grant_type": "authorization_code", "code": code, "code_verifier": verifier}
        return client.post("/hh/token", data={**data, **CLIENT, **extra})

    assert_error(exchange("NOPE"), "invalid_request", "code not found")
    code = new_code()
    assert_error(exchange(code, code_verifier="wrong" * 10), "invalid_grant", "bad code_verifier")
    # No redirect_uri at /authorize: sending one at /token is a mismatch.
    assert_error(exchange(code, redirect_uri=CALLBACK), "invalid_request", "bad redirect url")
    assert_error(
        exchange(code, client_secret="x"), "invalid_client", "client_id or client_secret not found"
    )
    assert exchange(code).status_code == 200
    assert_error(exchange(code), "invalid_grant", "code has already been used")
    late = new_code()
    idp.clock.advance(601)
    assert_error(exchange(late), "invalid_grant", "code expired")


def test_refresh_rules(idp: RunningDevIdp) -> None:
    tokens = connect(idp)
    client = idp.client()
    assert_error(refresh(client, tokens["refresh_token"]), "invalid_grant", "token not expired")
    idp.clock.advance(LIFETIME)
    expired = me(client, tokens["access_token"])
    assert expired.status_code == 403
    assert expired.json() == {"errors": [{"type": "oauth", "value": "token_expired"}]}

    fresh = refresh(client, tokens["refresh_token"])
    assert fresh.status_code == 200, fresh.text
    new = fresh.json()
    assert new["expires_in"] == int(LIFETIME) and new["token_type"] == "bearer"
    assert new["refresh_token"] != tokens["refresh_token"]
    assert me(client, new["access_token"]).status_code == 200
    old = me(client, tokens["access_token"])
    assert old.json()["errors"][0]["value"] == "bad_authorization"
    assert_error(
        refresh(client, tokens["refresh_token"]),
        "invalid_grant",
        "token has already been refreshed",
    )
    assert_error(refresh(client, "USERNOTATOKEN"), "invalid_grant", "bad token")
    assert_error(refresh(client, ""), "invalid_request", "token is empty")

    stats = idp.control("/_devidp/hh/stats")
    assert stats["refreshes_ok"] == 1
    assert stats["token_not_expired"] == 1
    assert stats["already_refreshed"] == 1


def test_revoke_and_deactivate(idp: RunningDevIdp) -> None:
    client = idp.client()
    ivan, anna = connect(idp, IVAN), connect(idp, "10000002")
    assert idp.control("/_devidp/hh/revoke", {"account_id": IVAN}) == {
        "account_id": IVAN,
        "revoked": 1,
    }
    idp.control("/_devidp/hh/deactivate", {"account_id": "10000002"})
    assert me(client, ivan["access_token"]).json()["errors"][0]["value"] == "token_revoked"
    idp.clock.advance(LIFETIME)
    assert_error(refresh(client, ivan["refresh_token"]), "invalid_grant", "token was revoked")
    assert_error(refresh(client, anna["refresh_token"]), "invalid_grant", "token deactivated")
    assert idp.control("/_devidp/hh/stats")["revoked_used"] == 1


def test_user_agent_is_required(idp: RunningDevIdp) -> None:
    tokens = connect(idp)
    plain = httpx.Client(base_url=idp.base_url, verify=TLS)  # sends python-httpx/x: no contact part
    try:
        resp = me(plain, tokens["access_token"])
        assert resp.status_code == 400
        assert resp.json()["error"] == "bad_user_agent"
        assert resp.json()["errors"] == [{"type": "bad_user_agent", "value": "blacklisted"}]
        assert plain.post("/hh/token", data={}).json()["error"] == "bad_user_agent"
        resp = plain.get(
            "/hh/me",
            headers={"HH-User-Agent": GOOD_UA, "Authorization": f"Bearer {tokens['access_token']}"},
        )
        assert resp.status_code == 200
    finally:
        plain.close()
    assert idp.control("/_devidp/hh/stats")["bad_user_agent"] == 2


def test_faults(idp: RunningDevIdp) -> None:
    client = idp.client()
    tokens = connect(idp)
    idp.clock.advance(LIFETIME)
    rt = tokens["refresh_token"]

    idp.control("/_devidp/hh/faults", {"mode": "500", "count": 2})
    assert refresh(client, rt).status_code == 500
    assert refresh(client, rt).status_code == 500
    idp.control("/_devidp/hh/faults", {"mode": "html"})
    resp = refresh(client, rt)
    assert resp.status_code == 502 and resp.headers["content-type"].startswith("text/html")
    idp.control("/_devidp/hh/faults", {"mode": "badjson"})
    resp = refresh(client, rt)
    assert resp.status_code == 200
    with pytest.raises(ValueError):
        resp.json()
    idp.control("/_devidp/hh/faults", {"mode": "429", "retry_after": 7})
    resp = refresh(client, rt)
    assert resp.status_code == 429 and resp.headers["retry-after"] == "7"

    # None of the failures spent the refresh token.
    assert refresh(client, rt).status_code == 200
    assert idp.control("/_devidp/hh/stats")["faults_injected"] == 5


def test_hang_and_lost_response(make_devidp: Callable[..., RunningDevIdp]) -> None:
    idp = make_devidp(DevIdpOptions(hh=HhOptions(redirect_uris=[CALLBACK], hang_seconds=0.8)))
    client = idp.client()
    tokens = connect(idp)
    idp.clock.advance(1_209_600)
    idp.control("/_devidp/hh/faults", {"mode": "hang"})
    with pytest.raises(httpx.ReadTimeout):
        client.post(
            "/hh/token",
            timeout=0.2,
            data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
        )
    # The hang spent nothing; the lost response spends the token and hides the new pair.
    idp.control("/_devidp/hh/faults", {"mode": "lost_response"})
    assert refresh(client, tokens["refresh_token"]).status_code == 502
    assert_error(
        refresh(client, tokens["refresh_token"]),
        "invalid_grant",
        "token has already been refreshed",
    )


def test_spend_and_hold_after_some_requests(idp: RunningDevIdp) -> None:
    """What a client killed mid-refresh leaves behind: the token spent, the answer never had."""
    client = idp.client()
    first, second = connect(idp), connect(idp, "10000002")
    idp.clock.advance(LIFETIME)
    idp.control("/_devidp/hh/faults", {"mode": "spend_and_hold", "after": 1, "count": 1})
    assert refresh(client, first["refresh_token"]).status_code == 200  # the one let through
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        held = pool.submit(refresh, httpx.Client(base_url=idp.base_url, headers={
            "User-Agent": GOOD_UA}, timeout=bound(30), verify=TLS), second["refresh_token"])
        stats = wait_until(lambda: (s := idp.control("/_devidp/hh/stats"))["held"] == 1 and s,
                           "the refresh being held")
        assert stats["refreshes_ok"] == 2 and not held.done()
        idp.control("/_devidp/hh/faults", {"mode": None})  # lets it go, as a lost answer
        assert held.result(timeout=bound(30)).status_code == 502
    assert idp.control("/_devidp/hh/stats")["held"] == 0
    assert_error(refresh(client, second["refresh_token"]), "invalid_grant",
                 "token has already been refreshed")


def test_latency(idp: RunningDevIdp) -> None:
    client = idp.client()
    idp.control("/_devidp/hh/latency", {"ms": 150})
    started = time.monotonic()
    client.post("/hh/token", data={"grant_type": "nope"})
    assert time.monotonic() - started >= 0.15
    idp.control("/_devidp/hh/latency", {"ms": 0})


def test_client_credentials(idp: RunningDevIdp) -> None:
    client = idp.client()
    data = {"grant_type": "client_credentials", **CLIENT}
    first = client.post("/hh/token", data=data).json()
    assert set(first) == {"access_token", "token_type"}  # no expires_in: it never expires
    assert first["access_token"].startswith("APPL")
    assert me(client, first["access_token"]).json()["is_application"] is True
    assert_error(
        client.post("/hh/token", data=data), "forbidden", "app token refresh too early", status=403
    )
    idp.clock.advance(10 * 365 * 86400)  # ten years later the first one still works
    assert me(client, first["access_token"]).status_code == 200
    second = client.post("/hh/token", data=data).json()
    assert me(client, second["access_token"]).status_code == 200
    assert me(client, first["access_token"]).json()["errors"][0]["value"] == "token_revoked"
    assert_error(
        client.post("/hh/token", data={**data, "client_secret": "bad"}),
        "invalid_client",
        "client_id or client_secret not found",
    )


def test_authorize_page_and_deny(idp: RunningDevIdp) -> None:
    client = idp.client()
    page = authorize(client, redirect_uri=CALLBACK + "/sub?lang=RU")
    assert page.status_code == 200
    html = page.text
    assert '<html lang="en">' in html and "<title>" in html and "<main>" in html
    assert "Ivan Petrov" in html and "Anna Smirnova" in html
    request_id = html.split('name="request_id" value="')[1].split('"')[0]
    chosen = client.post("/hh/oauth/authorize", data={"request_id": request_id, "account": IVAN})
    location = chosen.headers["location"]
    assert location.startswith(CALLBACK + "/sub?lang=RU&code=")

    page = authorize(client)
    request_id = page.text.split('name="request_id" value="')[1].split('"')[0]
    denied = client.post("/hh/oauth/authorize", data={"request_id": request_id, "decision": "deny"})
    assert redirect_params(denied) == {"error": "access_denied", "state": "st-1"}
    # A page can be used once.
    again = client.post("/hh/oauth/authorize", data={"request_id": request_id, "account": IVAN})
    assert again.status_code == 400


def test_authorize_refuses_bad_client_and_redirect(idp: RunningDevIdp) -> None:
    client = idp.client()
    for params in (
        {"client_id": "OTHER"},
        {"redirect_uri": "http://127.0.0.1:9998/auth/hh/callback"},
        {"redirect_uri": "https://127.0.0.1:9999/auth/hh/callback"},
        {"redirect_uri": "http://127.0.0.1:9999/auth/hh/callbacks"},
    ):
        resp = authorize(client, login_hint=IVAN, **params)
        assert resp.status_code == 400 and "location" not in resp.headers
        assert "<main>" in resp.text


def test_auto_approve_and_force_login(make_devidp: Callable[..., RunningDevIdp]) -> None:
    idp = make_devidp(
        DevIdpOptions(hh=HhOptions(redirect_uris=[CALLBACK], auto_approve_account="10000002"))
    )
    client = idp.client()
    code = redirect_params(authorize(client))["code"]
    resp = client.post(
        "/hh/token", data={"grant_type": "authorization_code", "code": code, **CLIENT}
    )
    assert me(client, resp.json()["access_token"]).json()["first_name"] == "Anna"
    assert authorize(client, force_login="true").status_code == 200


def test_seed_creates_due_connections(idp: RunningDevIdp) -> None:
    seeded = idp.control("/_devidp/hh/seed", {"count": 50, "expired": True})
    assert len(seeded) == 50 and len({s["account_id"] for s in seeded}) == 50
    assert all(s["expires_in"] == 0 for s in seeded)
    client = idp.client()
    assert refresh(client, seeded[0]["refresh_token"]).status_code == 200
    live = idp.control("/_devidp/hh/seed", {"count": 1})[0]
    assert live["expires_in"] == int(LIFETIME)
    assert_error(refresh(client, live["refresh_token"]), "invalid_grant", "token not expired")
    idp.control("/_devidp/hh/reset", {})
    assert idp.control("/_devidp/hh/stats")["accounts"] == 2


def test_control_rejects_nonsense(idp: RunningDevIdp) -> None:
    c = idp.client()
    assert c.post("/_devidp/hh/faults", json={"mode": "explode"}).status_code == 400
    assert c.post("/_devidp/hh/revoke", json={"account_id": "nobody"}).status_code == 404
    assert c.post("/_devidp/hh/latency", content=b"[1]").status_code == 400
