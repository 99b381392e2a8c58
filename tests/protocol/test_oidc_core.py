from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from joserfc import jwt

from authgate.errors import FlowError, IdTokenError, InvalidRequest, ProviderError
from authgate.protocol.oidc_core import (
    build_authentication_request,
    exchange_code,
    fetch_userinfo,
    parse_authorization_response,
    validate_id_token,
)
from authgate.protocol.oidc_discovery import ProviderMetadata
from authgate.protocol.oidc_jwks import JwksCache
from authgate.protocol.rfc6749_oauth2 import OAuthErrorResponse
from tests.protocol.fake_idp import CLIENT_ID, ISSUER, NONCE, FakeIdp, b64, ec_key, rsa_key

pytestmark = pytest.mark.anyio

STATE = "st-123"


def metadata_of(idp: FakeIdp, **changes: Any) -> ProviderMetadata:
    return ProviderMetadata.from_document({**idp.discovery, **changes}, expected_issuer=ISSUER)


# --- authentication request -----------------------------------------------------------------

def test_authentication_request_carries_state_nonce_and_pkce(idp: FakeIdp) -> None:
    url = build_authentication_request(
        metadata_of(idp), client_id=CLIENT_ID, redirect_uri="https://gw.example/cb",
        scopes=["openid", "email"], state=STATE, nonce=NONCE, code_challenge="chal",
        extra={"prompt": "login"})
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == f"{ISSUER}/authorize"
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    assert query == {"response_type": "code", "client_id": CLIENT_ID,
                     "redirect_uri": "https://gw.example/cb", "state": STATE,
                     "scope": "openid email", "code_challenge": "chal",
                     "code_challenge_method": "S256", "nonce": NONCE, "prompt": "login"}


@pytest.mark.parametrize(("changes", "scopes", "extra", "error"), [
    ({}, ["email"], None, InvalidRequest),
    ({"code_challenge_methods_supported": ["plain"]}, ["openid"], None, ProviderError),
    ({}, ["openid"], {"nonce": "mine"}, InvalidRequest),
])
def test_authentication_request_refusals(idp: FakeIdp, changes: dict[str, Any], scopes: list[str],
                                         extra: dict[str, str] | None,
                                         error: type[Exception]) -> None:
    with pytest.raises(error):
        build_authentication_request(
            metadata_of(idp, **changes), client_id=CLIENT_ID, redirect_uri="https://gw/cb",
            scopes=scopes, state=STATE, nonce=NONCE, code_challenge="c", extra=extra)


def test_pkce_sent_when_provider_does_not_advertise_it(idp: FakeIdp) -> None:
    url = build_authentication_request(
        metadata_of(idp, code_challenge_methods_supported=None), client_id=CLIENT_ID,
        redirect_uri="https://gw/cb", scopes=["openid"], state=STATE, nonce=NONCE,
        code_challenge="c")
    assert "code_challenge_method=S256" in url


# --- authorization response -----------------------------------------------------------------

def test_authorization_response_returns_code(idp: FakeIdp) -> None:
    params = {"code": "the-code", "state": STATE, "iss": ISSUER}
    assert parse_authorization_response(params, expected_state=STATE,
                                        metadata=metadata_of(idp)) == "the-code"


@pytest.mark.parametrize(("params", "iss_supported", "code"), [
    ({"code": "c"}, True, "invalid_state"),
    ({"code": "c", "state": "other", "iss": ISSUER}, True, "invalid_state"),
    ({"code": "c", "state": STATE}, True, "invalid_issuer"),
    ({"code": "c", "state": STATE, "iss": "https://evil.example"}, True, "invalid_issuer"),
    ({"code": "c", "state": STATE, "iss": "https://evil.example"}, False, "invalid_issuer"),
    ({"state": STATE, "iss": ISSUER}, True, "missing_code"),
    ({"state": STATE, "iss": ISSUER, "error": "no_such_thing"}, True, "authorization_failed"),
])
def test_authorization_response_refusals(idp: FakeIdp, params: dict[str, str],
                                         iss_supported: bool, code: str) -> None:
    metadata = metadata_of(idp, authorization_response_iss_parameter_supported=iss_supported)
    with pytest.raises(FlowError) as caught:
        parse_authorization_response(params, expected_state=STATE, metadata=metadata)
    assert caught.value.error == code


def test_iss_optional_when_not_advertised(idp: FakeIdp) -> None:
    metadata = metadata_of(idp, authorization_response_iss_parameter_supported=False)
    assert parse_authorization_response({"code": "c", "state": STATE}, expected_state=STATE,
                                        metadata=metadata) == "c"


def test_access_denied_is_readable(idp: FakeIdp) -> None:
    params = {"error": "access_denied", "error_description": "User\ncancelled", "state": STATE,
              "iss": ISSUER}
    with pytest.raises(FlowError) as caught:
        parse_authorization_response(params, expected_state=STATE, metadata=metadata_of(idp))
    assert caught.value.error == "access_denied"
    assert caught.value.detail == "sign-in was cancelled or refused at the provider: Usercancelled"


# --- code exchange --------------------------------------------------------------------------

async def exchange(idp: FakeIdp, **changes: Any) -> httpx.Request:
    idp.token_answer["id_token"] = idp.sign(idp.claims())
    await exchange_code(idp.http, metadata_of(idp, **changes), client_id=CLIENT_ID,
                        client_secret="s3cr et", code="the-code",
                        redirect_uri="https://gw/cb", code_verifier="verifier")
    return idp.requests[-1]


@pytest.mark.parametrize("methods", [["client_secret_basic", "client_secret_post"], None])
async def test_exchange_uses_basic_auth(idp: FakeIdp, methods: list[str] | None) -> None:
    request = await exchange(idp, token_endpoint_auth_methods_supported=methods)
    form = parse_qs(request.content.decode())
    assert form == {"grant_type": ["authorization_code"], "code": ["the-code"],
                    "redirect_uri": ["https://gw/cb"], "code_verifier": ["verifier"]}
    expected = base64.b64encode(f"{CLIENT_ID}:s3cr+et".encode()).decode()
    assert request.headers["authorization"] == f"Basic {expected}"


async def test_exchange_uses_post_when_only_post(idp: FakeIdp) -> None:
    request = await exchange(idp, token_endpoint_auth_methods_supported=["client_secret_post"])
    form = parse_qs(request.content.decode())
    assert form["client_id"] == [CLIENT_ID] and form["client_secret"] == ["s3cr et"]
    assert "authorization" not in request.headers


async def test_exchange_refusals(idp: FakeIdp) -> None:
    with pytest.raises(ProviderError) as caught:
        await exchange(idp, token_endpoint_auth_methods_supported=["private_key_jwt"])
    assert caught.value.error == "client_auth_unsupported"
    idp.token_answer = {"access_token": "at", "token_type": "Bearer"}
    with pytest.raises(IdTokenError) as id_caught:
        await exchange_code(idp.http, metadata_of(idp), client_id=CLIENT_ID, client_secret="s",
                            code="c", redirect_uri="https://gw/cb", code_verifier="v")
    assert id_caught.value.error == "id_token_missing"


async def test_exchange_oauth_error(idp: FakeIdp) -> None:
    http = httpx.AsyncClient(transport=httpx.MockTransport(
        lambda request: httpx.Response(400, json={"error": "invalid_grant"})))
    with pytest.raises(OAuthErrorResponse) as caught:
        await exchange_code(http, metadata_of(idp), client_id=CLIENT_ID, client_secret="s",
                            code="c", redirect_uri="https://gw/cb", code_verifier="v")
    assert caught.value.oauth_error == "invalid_grant"


# --- ID token -------------------------------------------------------------------------------

async def validate(idp: FakeIdp, token: str, jwks: JwksCache | None = None,
                   metadata: ProviderMetadata | None = None, **kw: Any) -> dict[str, Any]:
    return await validate_id_token(
        token, metadata=metadata or metadata_of(idp), jwks=jwks or JwksCache(idp.http, idp.clock),
        client_id=CLIENT_ID, nonce=NONCE, clock=idp.clock, **kw)


async def refused(idp: FakeIdp, token: str, code: str, **kw: Any) -> None:
    with pytest.raises(IdTokenError) as caught:
        await validate(idp, token, **kw)
    assert caught.value.error == code
    # No part of the token may leak into what is shown to people.
    assert all(part not in caught.value.detail for part in token.split(".") if part)


async def test_valid_id_token_accepted(idp: FakeIdp) -> None:
    claims = await validate(idp, idp.sign(idp.claims(email="u@example.com")))
    assert claims["sub"] == "user-1" and claims["email"] == "u@example.com"


async def test_es256_id_token_accepted(idp: FakeIdp) -> None:
    idp.published = [rsa_key("k1"), ec_key("e1")]
    assert (await validate(idp, idp.sign(idp.claims(), key=ec_key("e1"))))["sub"] == "user-1"


async def test_bad_signature_refused(idp: FakeIdp) -> None:
    # Signed by another key, but naming the published key's kid.
    forged = jwt.encode({"alg": "RS256", "kid": "k1"}, idp.claims(), rsa_key("forger"))
    await refused(idp, forged, "id_token_signature")
    # A genuine signature over different claims.
    header, _, signature = idp.sign(idp.claims()).split(".")
    tampered = ".".join([header, b64(json.dumps(idp.claims(sub="admin")).encode()), signature])
    await refused(idp, tampered, "id_token_signature")


async def test_alg_none_refused_without_key_lookup(idp: FakeIdp) -> None:
    metadata = metadata_of(idp, id_token_signing_alg_values_supported=["RS256", "none"])
    await refused(idp, idp.unsigned(idp.claims()), "id_token_alg", metadata=metadata)
    assert idp.hits["/jwks"] == 0


async def test_hs256_with_public_key_as_secret_refused(idp: FakeIdp) -> None:
    # The classic key-confusion attack: HMAC keyed with the provider's *public* RSA key.
    secret = rsa_key("k1").as_pem(private=False)
    signing_input = ".".join([b64(json.dumps({"alg": "HS256", "kid": "k1"}).encode()),
                              b64(json.dumps(idp.claims()).encode())])
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    token = f"{signing_input}.{b64(mac)}"
    metadata = metadata_of(idp, id_token_signing_alg_values_supported=["RS256", "HS256"])
    await refused(idp, token, "id_token_alg", metadata=metadata)
    assert idp.hits["/jwks"] == 0


async def test_alg_not_advertised_refused(idp: FakeIdp) -> None:
    idp.published = [ec_key("e1")]
    metadata = metadata_of(idp, id_token_signing_alg_values_supported=["RS256"])
    await refused(idp, idp.sign(idp.claims(), key=ec_key("e1")), "id_token_alg",
                  metadata=metadata)


async def test_malformed_token_refused(idp: FakeIdp) -> None:
    await refused(idp, "not-a-jwt", "id_token_malformed")


@pytest.mark.parametrize(("claims", "code"), [
    ({"iss": "https://evil.example"}, "id_token_iss"),
    ({"iss": None}, "id_token_iss"),
    ({"aud": "someone-else"}, "id_token_aud"),
    ({"aud": None}, "id_token_aud"),
    ({"aud": [CLIENT_ID, "project-1"]}, "id_token_azp"),
    ({"azp": "someone-else"}, "id_token_azp"),
    ({"aud": [CLIENT_ID, "project-1"], "azp": "project-1"}, "id_token_azp"),
    ({"nonce": "other"}, "id_token_nonce"),
    ({"nonce": None}, "id_token_nonce"),
    ({"sub": None}, "id_token_sub"),
    ({"sub": ""}, "id_token_sub"),
    ({"iat": None}, "id_token_iat"),
    ({"exp": None}, "id_token_expired"),
    ({"exp": True}, "id_token_expired"),
])
async def test_claim_refusals(idp: FakeIdp, claims: dict[str, Any], code: str) -> None:
    await refused(idp, idp.sign(idp.claims(**claims)), code)


async def test_zitadel_multi_audience_with_azp_accepted(idp: FakeIdp) -> None:
    token = idp.sign(idp.claims(aud=[CLIENT_ID, "project-1"], azp=CLIENT_ID))
    assert (await validate(idp, token))["azp"] == CLIENT_ID


async def test_expiry_with_leeway(idp: FakeIdp) -> None:
    now = int(idp.clock.now().timestamp())
    await validate(idp, idp.sign(idp.claims(exp=now - 59)), leeway=60)
    await refused(idp, idp.sign(idp.claims(exp=now - 61)), "id_token_expired", leeway=60)


async def test_iat_in_the_future(idp: FakeIdp) -> None:
    now = int(idp.clock.now().timestamp())
    await validate(idp, idp.sign(idp.claims(iat=now + 59)), leeway=60)
    await refused(idp, idp.sign(idp.claims(iat=now + 61)), "id_token_iat", leeway=60)


async def test_iat_too_old_with_max_age(idp: FakeIdp) -> None:
    now = int(idp.clock.now().timestamp())
    token = idp.sign(idp.claims(iat=now - 700))
    await validate(idp, token)  # no max_age: age is not checked
    await refused(idp, token, "id_token_iat", max_age_iat=600)


async def test_nbf_in_the_future(idp: FakeIdp) -> None:
    now = int(idp.clock.now().timestamp())
    await refused(idp, idp.sign(idp.claims(nbf=now + 120)), "id_token_nbf")


async def test_unknown_kid_refetch_then_rate_limit(idp: FakeIdp) -> None:
    jwks = JwksCache(idp.http, idp.clock, min_refetch_interval=30)
    await validate(idp, idp.sign(idp.claims()), jwks=jwks)
    assert idp.hits["/jwks"] == 1
    idp.clock.advance(45)

    # The provider rotates: the first token signed with the new key triggers one refetch.
    idp.published = [rsa_key("k2"), rsa_key("k1")]
    claims = await validate(idp, idp.sign(idp.claims(), key=rsa_key("k2")), jwks=jwks)
    assert claims["sub"] == "user-1"
    assert idp.hits["/jwks"] == 2

    # Another unknown kid within 30 s: no refetch, refused.
    idp.clock.advance(10)
    forged = idp.sign(idp.claims(), key=rsa_key("k3"))
    await refused(idp, forged, "id_token_kid", jwks=jwks)
    assert idp.hits["/jwks"] == 2


async def test_no_kid_with_several_published_keys_refused(idp: FakeIdp) -> None:
    idp.published = [rsa_key("k1"), rsa_key("k2")]
    token = jwt.encode({"alg": "RS256"}, idp.claims(), rsa_key("k1"))
    await refused(idp, token, "id_token_kid")


# --- userinfo -------------------------------------------------------------------------------

async def test_userinfo_returned_with_bearer(idp: FakeIdp) -> None:
    info = await fetch_userinfo(idp.http, metadata_of(idp), access_token="at-1",
                                expected_sub="user-1")
    assert info["email"] == "u@example.com"
    assert idp.requests[-1].headers["authorization"] == "Bearer at-1"


async def test_userinfo_sub_mismatch(idp: FakeIdp) -> None:
    idp.userinfo["sub"] = "user-2"
    with pytest.raises(IdTokenError) as caught:
        await fetch_userinfo(idp.http, metadata_of(idp), access_token="at-1",
                             expected_sub="user-1")
    assert caught.value.error == "userinfo_sub_mismatch"


async def test_userinfo_transport_error_is_transient(idp: FakeIdp) -> None:
    idp.fail_with = httpx.ConnectError("down")
    with pytest.raises(ProviderError) as caught:
        await fetch_userinfo(idp.http, metadata_of(idp), access_token="at-1",
                             expected_sub="user-1")
    assert caught.value.transient is True


def test_state_matched_by_the_caller_still_must_be_present(idp: FakeIdp) -> None:
    metadata = metadata_of(idp)
    assert parse_authorization_response({"code": "c", "state": "any", "iss": ISSUER},
                                        expected_state=None, metadata=metadata) == "c"
    with pytest.raises(FlowError) as caught:
        parse_authorization_response({"code": "c", "iss": ISSUER}, expected_state=None,
                                     metadata=metadata)
    assert caught.value.error == "invalid_state"
