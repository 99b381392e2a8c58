from __future__ import annotations

import base64
import hashlib
import re

from authgate.protocol.rfc6749_oauth2 import authorization_url
from authgate.protocol.rfc7636_pkce import new_pkce_pair, s256_challenge
from authgate.protocol.urls import add_params_to_uri


def test_s256_matches_rfc7636_appendix_b() -> None:
    # The verifier is base64url of these 32 octets; the challenge is the RFC's, letter for letter.
    octets = [116, 24, 223, 180, 151, 153, 224, 37, 79, 250, 96, 125, 216, 173, 187, 186, 22, 212,
              37, 77, 105, 214, 191, 240, 91, 88, 5, 88, 83, 132, 141, 121]
    verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
    assert base64.urlsafe_b64encode(bytes(octets)).decode().rstrip("=") == verifier
    assert s256_challenge(verifier) == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


def test_new_pair_is_s256_of_its_verifier() -> None:
    pair = new_pkce_pair()
    assert pair.method == "S256"
    # RFC 7636 §4.1: 43..128 unreserved characters.
    assert re.fullmatch(r"[A-Za-z0-9._~-]{43,128}", pair.verifier)
    expected = base64.urlsafe_b64encode(hashlib.sha256(pair.verifier.encode()).digest())
    assert pair.challenge == expected.decode().rstrip("=")
    assert "=" not in pair.challenge and len(pair.challenge) == 43
    assert new_pkce_pair().verifier != pair.verifier


def test_params_are_appended_after_the_endpoints_own_query_and_before_the_fragment() -> None:
    assert add_params_to_uri("https://idp.example/auth", [("a", "1")]) == \
        "https://idp.example/auth?a=1"
    assert add_params_to_uri("https://idp.example/auth?x=&y=2#frag", [("a", "1"), ("a", "2")]) == \
        "https://idp.example/auth?x=&y=2&a=1&a=2#frag"
    assert add_params_to_uri("https://idp.example/a;p?q=1", []) == "https://idp.example/a;p?q=1"


def test_values_are_form_encoded() -> None:
    url = add_params_to_uri("https://idp.example/auth?keep=a%20b",
                            [("redirect_uri", "https://gw/cb?x=1&y=é"), ("scope", "openid email")])
    assert url == ("https://idp.example/auth?keep=a+b"
                   "&redirect_uri=https%3A%2F%2Fgw%2Fcb%3Fx%3D1%26y%3D%C3%A9&scope=openid+email")


def test_authorization_url_keeps_the_parameter_order() -> None:
    url = authorization_url("https://idp.example/auth?tenant=t", client_id="c",
                            redirect_uri="https://gw/cb", state="s", scopes=["openid", "email"],
                            code_challenge="ch", extra={"prompt": "login"})
    assert url == ("https://idp.example/auth?tenant=t&response_type=code&client_id=c"
                   "&redirect_uri=https%3A%2F%2Fgw%2Fcb&state=s&scope=openid+email"
                   "&code_challenge=ch&code_challenge_method=S256&prompt=login")
