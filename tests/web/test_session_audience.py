"""Session JWTs name their audience (security review, finding 13): the cookie's is the gateway,
one handed to a panel is for that panel only, so the panel cannot open the other apps with it.
Through the real ASGI app."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from joserfc import jwt

from authgate.signin.signing_keys import ALG
from tests.web.test_handoff_origin import GATEWAY, _handoff
from tests.web.test_pages import PANEL, _client
from tests.web.test_session_api import _runtime, _session


@pytest.fixture
def gateway(tmp_path: Path) -> Iterator[httpx.Client]:
    yield from _client(tmp_path, GATEWAY)


def _claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    padded = payload + "=" * (-len(payload) % 4)
    claims: dict[str, Any] = json.loads(base64.urlsafe_b64decode(padded))
    return claims


def _panel_token(gateway: httpx.Client, cookie_token: str) -> str:
    traded = gateway.post("/auth/token", json={"code": _handoff(gateway, cookie_token)},
                          headers={"Origin": PANEL})
    assert traded.status_code == 200, traded.text
    token: str = traded.json()["access_token"]
    return token


def _bearer(token: str, **headers: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", **headers}


def test_the_cookie_is_for_the_gateway_and_works_as_before(gateway: httpx.Client) -> None:
    token = _session(gateway, "cat", "admin")
    assert _claims(token)["aud"] == GATEWAY
    cookie = {"Cookie": f"authgate_session={token}"}
    verify = gateway.get("/auth/verify?role=admin", headers=cookie)
    assert verify.status_code == 200 and verify.headers["x-auth-request-user"] == "cat"
    # An nginx site that names its own audience still lets the gateway's cookie through.
    assert gateway.get(f"/auth/verify?aud={PANEL}", headers=cookie).status_code == 200
    assert gateway.get("/auth/me", headers=cookie).json()["username"] == "cat"
    assert gateway.get("/auth/me", headers=_bearer(token)).status_code == 200


def test_a_panels_token_opens_only_that_panel(gateway: httpx.Client) -> None:
    panel_token = _panel_token(gateway, _session(gateway, "pat", "admin"))
    assert _claims(panel_token)["aud"] == PANEL

    # Not the apps behind the gateway's auth_request, whichever way it is sent.
    for headers in (_bearer(panel_token), {"Cookie": f"authgate_session={panel_token}"},
                    _bearer(panel_token, Origin=PANEL)):
        refused = gateway.get("/auth/verify", headers=headers)
        assert refused.status_code == 401, headers
        assert refused.json()["error"] == "session_audience"
    assert gateway.get("/auth/verify?aud=https://other.example",
                       headers=_bearer(panel_token)).status_code == 401
    # The panel's own nginx site names it: there it counts.
    named = gateway.get("/auth/verify", params={"aud": PANEL, "role": "admin"},
                        headers=_bearer(panel_token))
    assert named.status_code == 200 and named.headers["x-auth-request-user"] == "pat"
    assert gateway.get("/auth/verify?aud=not-an-origin",
                       headers=_bearer(panel_token)).status_code == 400

    # /auth/me: for the panel itself (its Origin), not for anyone else.
    me = gateway.get("/auth/me", headers=_bearer(panel_token, Origin=PANEL))
    assert me.status_code == 200 and me.json()["username"] == "pat"
    for origin in (None, GATEWAY, "https://other.example"):
        headers = _bearer(panel_token, **({"Origin": origin} if origin else {}))
        assert gateway.get("/auth/me", headers=headers).status_code == 401, origin
    # The console never takes a panel's token.
    assert gateway.get("/console", headers=_bearer(panel_token, Origin=PANEL)
                       ).status_code != 200


def test_the_panel_signs_out_with_its_token(gateway: httpx.Client) -> None:
    cookie_token = _session(gateway, "pat")
    panel_token = _panel_token(gateway, cookie_token)
    out = gateway.post("/logout", headers=_bearer(panel_token, Origin=PANEL,
                                                  Accept="application/json"))
    assert out.status_code == 200 and out.json()["signed_out"] is True
    cookie = {"Cookie": f"authgate_session={cookie_token}"}
    assert gateway.get("/auth/verify", headers=cookie).status_code == 401  # one session: ended


def test_a_token_without_an_audience_is_refused(gateway: httpx.Client) -> None:
    token = _session(gateway, "old")
    claims = {k: v for k, v in _claims(token).items() if k != "aud"}
    kid, key = _runtime(gateway).signin.keys.signer()
    legacy = jwt.encode({"alg": ALG, "kid": kid, "typ": "JWT"}, claims, key, algorithms=[ALG])
    for headers in (_bearer(legacy), {"Cookie": f"authgate_session={legacy}"}):
        assert gateway.get("/auth/verify", headers=headers).status_code == 401
        assert gateway.get("/auth/me", headers=headers).status_code == 401
