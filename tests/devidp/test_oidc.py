"""The OIDC provider, over real HTTP: discovery, PKCE code flow, JWKS, tampering, logout."""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from joserfc import jwt
from joserfc.errors import BadSignatureError, JoseError
from joserfc.jwk import KeySet

from authgate.devidp import DevIdpOptions, OidcOptions

from .conftest import RunningDevIdp, pkce_pair

CALLBACK = "http://127.0.0.1:9999/auth/zitadel/callback"
CLIENT_ID, SECRET = "authgate-dev", "dev-oidc-secret"
BASIC = httpx.BasicAuth(CLIENT_ID, SECRET)
ALICE = "alice@example.com"
PROJECT = "300000000000000001"


@pytest.fixture
def idp(make_devidp: Callable[..., RunningDevIdp]) -> RunningDevIdp:
    return make_devidp(DevIdpOptions(oidc=OidcOptions(post_logout_redirect_uris=[])))


def authorize(client: httpx.Client, **params: str) -> httpx.Response:
    query = {
        "response_type": "code",
        "client_id": CLIENT_ID,
        "redirect_uri": CALLBACK,
        "scope": "openid email profile offline_access",
        "state": "st-1",
        "nonce": "n-1",
        **params,
    }
    return client.get("/oidc/authorize", params=query)


def callback(resp: httpx.Response) -> dict[str, str]:
    assert resp.status_code == 302, resp.text
    assert resp.headers["location"].startswith(CALLBACK)
    return {k: v[0] for k, v in parse_qs(urlsplit(resp.headers["location"]).query).items()}


def sign_in(idp: RunningDevIdp, hint: str = ALICE, **extra: str) -> dict[str, Any]:
    client = idp.client()
    verifier, challenge = pkce_pair()
    params = callback(
        authorize(
            client, login_hint=hint, code_challenge=challenge, code_challenge_method="S256", **extra
        )
    )
    resp = client.post(
        "/oidc/token",
        auth=BASIC,
        data={
            "grant_type": "authorization_code",
            "code": params["code"],
            "redirect_uri": CALLBACK,
            "code_verifier": verifier,
        },
    )
    assert resp.status_code == 200, resp.text
    assert resp.headers["cache-control"] == "no-store"
    return dict(resp.json())


def jwks(idp: RunningDevIdp) -> KeySet:
    return KeySet.import_key_set(idp.client().get("/oidc/jwks").json())


def verify(idp: RunningDevIdp, id_token: str) -> dict[str, Any]:
    return dict(jwt.decode(id_token, jwks(idp), algorithms=["RS256"]).claims)


def unverified(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    def part(p: str) -> dict[str, Any]:
        return dict(json.loads(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4))))

    header, claims, _ = token.split(".")
    return part(header), part(claims)


def test_discovery(idp: RunningDevIdp) -> None:
    doc = idp.client().get("/oidc/.well-known/openid-configuration").json()
    issuer = f"{idp.base_url}/oidc"
    assert doc["issuer"] == issuer
    for name, path in (
        ("authorization_endpoint", "/authorize"),
        ("token_endpoint", "/token"),
        ("userinfo_endpoint", "/userinfo"),
        ("jwks_uri", "/jwks"),
        ("end_session_endpoint", "/end_session"),
    ):
        assert doc[name] == issuer + path
        assert idp.client().get(doc[name]).status_code != 404
    assert doc["id_token_signing_alg_values_supported"] == ["RS256"]
    assert doc["code_challenge_methods_supported"] == ["S256"]
    assert doc["authorization_response_iss_parameter_supported"] is True
    assert set(doc["token_endpoint_auth_methods_supported"]) == {
        "client_secret_basic",
        "client_secret_post",
    }


def test_code_flow_id_token_userinfo_refresh(idp: RunningDevIdp) -> None:
    tokens = sign_in(idp)
    assert tokens["token_type"] == "Bearer" and tokens["expires_in"] == 3600
    claims = verify(idp, tokens["id_token"])
    assert claims["iss"] == f"{idp.base_url}/oidc"
    assert claims["aud"] == [CLIENT_ID, PROJECT] and claims["azp"] == CLIENT_ID
    assert claims["nonce"] == "n-1" and claims["email"] == ALICE
    assert claims["name"] == "Alice Admin" and claims["picture"]
    assert claims["exp"] == int(idp.clock.now) + 3600 and claims["iat"] == int(idp.clock.now)
    org = {"200000000000000001": "example.com"}
    assert claims["urn:zitadel:iam:org:project:roles"] == {"admin": org}
    assert claims[f"urn:zitadel:iam:org:project:{PROJECT}:roles"] == {"admin": org}

    client = idp.client()
    info = client.get(
        "/oidc/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"}
    )
    assert info.status_code == 200
    assert info.json()["sub"] == claims["sub"] and info.json()["email"] == ALICE
    posted = client.post("/oidc/userinfo", data={"access_token": tokens["access_token"]})
    assert posted.json()["sub"] == claims["sub"]
    bad = client.get("/oidc/userinfo", headers={"Authorization": "Bearer nope"})
    assert bad.status_code == 401 and "invalid_token" in bad.headers["www-authenticate"]

    # Refresh with client_secret_post; the refresh token rotates.
    data = {
        "grant_type": "refresh_token",
        "refresh_token": tokens["refresh_token"],
        "client_id": CLIENT_ID,
        "client_secret": SECRET,
    }
    again = client.post("/oidc/token", data=data)
    assert again.status_code == 200, again.text
    assert verify(idp, again.json()["id_token"])["sub"] == claims["sub"]
    assert again.json()["refresh_token"] != tokens["refresh_token"]
    assert client.post("/oidc/token", data=data).json()["error"] == "invalid_grant"
    idp.clock.advance(3601)
    assert (
        client.get(
            "/oidc/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"}
        ).status_code
        == 401
    )


def test_token_endpoint_rules(idp: RunningDevIdp) -> None:
    client = idp.client()
    verifier, challenge = pkce_pair()
    code = callback(
        authorize(client, login_hint=ALICE, code_challenge=challenge, code_challenge_method="S256")
    )["code"]
    base = {"grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK}

    def post(auth: httpx.Auth = BASIC, **data: str) -> httpx.Response:
        return client.post("/oidc/token", auth=auth, data={**base, **data})

    wrong_client = post(httpx.BasicAuth(CLIENT_ID, "wrong"), code_verifier=verifier)
    assert wrong_client.status_code == 401 and wrong_client.json()["error"] == "invalid_client"
    assert post(code_verifier="x" * 50).json()["error"] == "invalid_grant"
    assert post().json()["error"] == "invalid_request"  # no code_verifier
    assert post(code_verifier=verifier, redirect_uri=CALLBACK + "x").json()["error"] == (
        "invalid_grant"
    )
    first = post(code_verifier=verifier)
    assert first.status_code == 200
    assert post(code_verifier=verifier).json()["error"] == "invalid_grant"  # single use
    # Reuse revoked what the code had been exchanged for.
    token = first.json()["access_token"]
    assert (
        client.get("/oidc/userinfo", headers={"Authorization": f"Bearer {token}"}).status_code
        == 401
    )
    assert post(code_verifier=verifier, grant_type="password").json()["error"] == (
        "unsupported_grant_type"
    )


def test_authorize_validation(idp: RunningDevIdp) -> None:
    client = idp.client()
    _, challenge = pkce_pair()
    pkce = {"code_challenge": challenge, "code_challenge_method": "S256"}
    for params in ({"client_id": "other"}, {"redirect_uri": "https://evil.example/cb"}):
        resp = authorize(client, login_hint=ALICE, **pkce, **params)
        assert resp.status_code == 400 and "location" not in resp.headers
    issuer = f"{idp.base_url}/oidc"
    no_pkce = callback(authorize(client, login_hint=ALICE))
    assert no_pkce["error"] == "invalid_request" and no_pkce["iss"] == issuer
    plain = callback(
        authorize(client, login_hint=ALICE, code_challenge=challenge, code_challenge_method="plain")
    )
    assert plain["error"] == "invalid_request"
    assert callback(authorize(client, **pkce, scope="email"))["error"] == "invalid_scope"
    assert callback(authorize(client, **pkce, prompt="none"))["error"] == "login_required"
    ok = callback(authorize(client, login_hint=ALICE, **pkce))
    assert set(ok) == {"code", "state", "iss"} and ok["iss"] == issuer


def test_sign_in_page_and_deny(idp: RunningDevIdp) -> None:
    client = idp.client()
    _, challenge = pkce_pair()
    page = authorize(client, code_challenge=challenge, code_challenge_method="S256")
    assert page.status_code == 200
    assert '<html lang="en">' in page.text and "<main>" in page.text and "<title>" in page.text
    assert "alice@example.com" in page.text and "bob@example.com" in page.text
    rid = page.text.split('name="request_id" value="')[1].split('"')[0]
    chosen = client.post("/oidc/authorize", data={"request_id": rid, "user": "bob@example.com"})
    assert "code" in callback(chosen)
    page = authorize(client, code_challenge=challenge, code_challenge_method="S256")
    rid = page.text.split('name="request_id" value="')[1].split('"')[0]
    denied = callback(client.post("/oidc/authorize", data={"request_id": rid, "decision": "deny"}))
    assert denied["error"] == "access_denied" and denied["state"] == "st-1"


def test_auto_approve_user(make_devidp: Callable[..., RunningDevIdp]) -> None:
    idp = make_devidp(DevIdpOptions(oidc=OidcOptions(auto_approve_user="bob@example.com")))
    tokens = sign_in(idp, hint="")
    assert verify(idp, tokens["id_token"])["email"] == "bob@example.com"


def _assert_defect(idp: RunningDevIdp, mode: str, token: str, keys_before: KeySet) -> None:
    header, claims = unverified(token)
    now = idp.clock.now
    if mode == "bad_signature":
        assert header["kid"] in [k.kid for k in keys_before.keys]
        with pytest.raises(BadSignatureError):
            jwt.decode(token, keys_before, algorithms=["RS256"])
    elif mode == "alg_none":
        assert header["alg"] == "none" and token.endswith(".")
    elif mode == "hs256_public_key":
        assert header["alg"] == "HS256"
        with pytest.raises(JoseError):
            jwt.decode(token, keys_before, algorithms=["RS256"])
    elif mode == "wrong_iss":
        assert claims["iss"] != f"{idp.base_url}/oidc"
    elif mode == "wrong_aud":
        assert CLIENT_ID not in claims["aud"]
    elif mode == "expired":
        assert claims["exp"] < now - 60
    elif mode == "nonce_mismatch":
        assert claims["nonce"] != "n-1"
    elif mode == "wrong_azp":
        assert claims["azp"] != CLIENT_ID and CLIENT_ID in claims["aud"]
    elif mode == "unknown_kid_rotated":
        assert header["kid"] not in [k.kid for k in keys_before.keys]
        verify(idp, token)  # valid once the JWKS is fetched again
    if mode not in ("bad_signature", "alg_none", "hs256_public_key", "unknown_kid_rotated"):
        verify(idp, token)  # signature fine: only the named claim is wrong


@pytest.mark.parametrize(
    "mode",
    [
        "bad_signature",
        "alg_none",
        "hs256_public_key",
        "wrong_iss",
        "wrong_aud",
        "expired",
        "nonce_mismatch",
        "wrong_azp",
        "unknown_kid_rotated",
    ],
)
def test_tamper_modes(make_devidp: Callable[..., RunningDevIdp], mode: str) -> None:
    idp = make_devidp()
    keys_before = jwks(idp)
    assert idp.control("/_devidp/oidc/tamper", {"mode": mode}) == {"mode": mode}
    tampered = sign_in(idp)["id_token"]
    _assert_defect(idp, mode, tampered, keys_before)
    # One use only: the next token is sound.
    assert verify(idp, sign_in(idp)["id_token"])["nonce"] == "n-1"
    assert idp.control("/_devidp/oidc/stats")["tampered"] == 1


def test_userinfo_sub_mismatch(idp: RunningDevIdp) -> None:
    idp.control("/_devidp/oidc/tamper", {"mode": "userinfo_sub_mismatch"})
    tokens = sign_in(idp)
    sub = verify(idp, tokens["id_token"])["sub"]  # the ID token itself is sound
    auth = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert idp.client().get("/oidc/userinfo", headers=auth).json()["sub"] != sub
    assert idp.client().get("/oidc/userinfo", headers=auth).json()["sub"] == sub


def test_key_rotation(idp: RunningDevIdp) -> None:
    old_token = sign_in(idp)["id_token"]
    old_kid = unverified(old_token)[0]["kid"]
    kept = idp.control("/_devidp/oidc/rotate-keys", {"keep_old": True})
    assert kept["jwks_kids"] == [kept["kid"], old_kid]
    verify(idp, old_token)
    rotated = idp.control("/_devidp/oidc/rotate-keys", {})
    assert rotated["jwks_kids"] == [rotated["kid"]]
    with pytest.raises(JoseError):  # the old kid is gone from the JWKS
        verify(idp, old_token)
    assert unverified(sign_in(idp)["id_token"])[0]["kid"] == rotated["kid"]
    assert idp.control("/_devidp/oidc/stats")["jwks_fetched"] >= 2


def test_end_session(make_devidp: Callable[..., RunningDevIdp]) -> None:
    after = "http://127.0.0.1:9999/signed-out"
    idp = make_devidp(
        DevIdpOptions(
            oidc=OidcOptions(
                allow_any_loopback_redirect=False,
                redirect_uris=[CALLBACK],
                post_logout_redirect_uris=[after],
            )
        )
    )
    id_token = sign_in(idp)["id_token"]
    client = idp.client()
    resp = client.get(
        "/oidc/end_session",
        params={"id_token_hint": id_token, "post_logout_redirect_uri": after, "state": "bye"},
    )
    assert resp.status_code == 302 and resp.headers["location"] == after + "?state=bye"
    bad = client.get(
        "/oidc/end_session",
        params={
            "id_token_hint": id_token,
            "post_logout_redirect_uri": "http://127.0.0.1:9999/elsewhere",
        },
    )
    assert bad.status_code == 400 and "location" not in bad.headers
    page = client.get("/oidc/end_session")
    assert page.status_code == 200 and "Signed out" in page.text
    forged = client.get(
        "/oidc/end_session", params={"id_token_hint": "a.b.c", "post_logout_redirect_uri": after}
    )
    assert forged.status_code == 400


def test_users_can_change_between_sign_ins(idp: RunningDevIdp) -> None:
    first = verify(idp, sign_in(idp)["id_token"])
    changed = idp.control(
        "/_devidp/oidc/users", {"email": ALICE, "name": "Alice Renamed", "roles": ["user"]}
    )
    assert changed["sub"] == first["sub"] and changed["name"] == "Alice Renamed"
    second = verify(idp, sign_in(idp)["id_token"])
    assert second["name"] == "Alice Renamed"
    assert set(second["urn:zitadel:iam:org:project:roles"]) == {"user"}
    carol = idp.control("/_devidp/oidc/users", {"email": "carol@example.com", "name": "Carol"})
    assert verify(idp, sign_in(idp, hint="carol@example.com")["id_token"])["sub"] == carol["sub"]
    bad = idp.client().post("/_devidp/oidc/users", json={"nickname": secrets.token_hex()})
    assert bad.status_code == 400
