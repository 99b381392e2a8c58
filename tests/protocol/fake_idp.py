"""A small OpenID provider behind ``httpx.MockTransport``: real keys, real JWS, real HTTP objects.

It serves discovery, JWKS, token and userinfo, records every request, and can rotate keys. Keys
are generated once per test session (RSA generation is the slow part of these tests).
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections import Counter
from functools import cache
from typing import Any

import httpx
from joserfc import jwt
from joserfc.jwk import ECKey, KeySet, RSAKey

from authgate.clock import FrozenClock

ISSUER = "https://idp.example"
CLIENT_ID = "authgate-client"
NONCE = "n-0S6_WzA2Mj"


@cache
def rsa_key(kid: str) -> RSAKey:
    return RSAKey.generate_key(2048, parameters={"kid": kid, "use": "sig"}, private=True)


@cache
def ec_key(kid: str) -> ECKey:
    return ECKey.generate_key("P-256", parameters={"kid": kid, "use": "sig"}, private=True)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class FakeIdp:
    def __init__(self, clock: FrozenClock) -> None:
        self.clock = clock
        self.published: list[RSAKey | ECKey] = [rsa_key("k1")]
        self.discovery: dict[str, Any] = {
            "issuer": ISSUER,
            "authorization_endpoint": f"{ISSUER}/authorize",
            "token_endpoint": f"{ISSUER}/token",
            "userinfo_endpoint": f"{ISSUER}/userinfo",
            "jwks_uri": f"{ISSUER}/jwks",
            "end_session_endpoint": f"{ISSUER}/logout",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256", "ES256"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "code_challenge_methods_supported": ["S256"],
            "authorization_response_iss_parameter_supported": True,
        }
        self.token_answer: dict[str, Any] = {"access_token": "at-1", "token_type": "Bearer",
                                             "expires_in": 3600}
        self.userinfo: dict[str, Any] = {"sub": "user-1", "email": "u@example.com"}
        self.requests: list[httpx.Request] = []
        self.hits: Counter[str] = Counter()
        self.delay = 0.0  # seconds each answer waits: lets concurrent callers overlap
        self.fail_with: Exception | None = None
        self.status: dict[str, int] = {}
        self.http = httpx.AsyncClient(transport=httpx.MockTransport(self.handle))

    async def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path = request.url.path
        self.hits[path] += 1
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.fail_with is not None:
            raise self.fail_with
        if path in self.status:
            return httpx.Response(self.status[path], text="oops")
        if path == "/.well-known/openid-configuration":
            return httpx.Response(200, json=self.discovery)
        if path == "/jwks":
            return httpx.Response(200, json=KeySet(list(self.published)).as_dict(private=False))
        if path == "/token":
            return httpx.Response(200, json=self.token_answer)
        if path == "/userinfo":
            return httpx.Response(200, json=self.userinfo)
        return httpx.Response(404)

    def claims(self, **overrides: Any) -> dict[str, Any]:
        now = int(self.clock.now().timestamp())
        claims: dict[str, Any] = {"iss": ISSUER, "sub": "user-1", "aud": CLIENT_ID,
                                  "exp": now + 300, "iat": now, "nonce": NONCE}
        claims.update(overrides)
        return {k: v for k, v in claims.items() if v is not None}

    def sign(self, claims: dict[str, Any], *, key: RSAKey | ECKey | None = None,
             alg: str | None = None) -> str:
        key = key or self.published[0]
        alg = alg or ("ES256" if isinstance(key, ECKey) else "RS256")
        return jwt.encode({"alg": alg, "kid": key.kid}, claims, key, algorithms=[alg])

    def unsigned(self, claims: dict[str, Any]) -> str:
        header = b64(json.dumps({"alg": "none", "kid": self.published[0].kid}).encode())
        return f"{header}.{b64(json.dumps(claims).encode())}."
