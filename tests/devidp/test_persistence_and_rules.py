"""State that survives a restart, and hh.ru's redirect URI rule (a pure function)."""

from __future__ import annotations

import logging
import stat
from collections.abc import Callable
from pathlib import Path

import pytest

from authgate.devidp import DevIdpOptions, HhOptions
from authgate.devidp.redirects import hh_redirect_allowed, oidc_redirect_allowed
from tests.harness import eventually

from . import test_hh as hh
from . import test_oidc as oidc
from .conftest import RunningDevIdp


def test_state_survives_restart(make_devidp: Callable[..., RunningDevIdp], tmp_path: Path) -> None:
    state = tmp_path / "data" / "devidp.json"

    def options() -> DevIdpOptions:
        return DevIdpOptions(hh=HhOptions(redirect_uris=[hh.CALLBACK]), state_file=state)

    first = make_devidp(options())
    hh_tokens = hh.connect(first)
    oidc_tokens = oidc.sign_in(first)
    kid = oidc.unverified(oidc_tokens["id_token"])[0]["kid"]
    first.control("/_devidp/oidc/users", {"email": oidc.ALICE, "name": "Alice Persisted"})
    first.stop()
    assert stat.S_IMODE(state.stat().st_mode) == 0o600
    assert [p.name for p in state.parent.iterdir()] == ["devidp.json"]  # no temp files left

    second = make_devidp(options())
    client = second.client()
    auth = {"Authorization": f"Bearer {oidc_tokens['access_token']}"}
    info = client.get("/oidc/userinfo", headers=auth).json()
    assert info["name"] == "Alice Persisted"
    assert [k["kid"] for k in client.get("/oidc/jwks").json()["keys"]] == [kid]
    refreshed = client.post(
        "/oidc/token",
        auth=oidc.BASIC,
        data={"grant_type": "refresh_token", "refresh_token": oidc_tokens["refresh_token"]},
    )
    assert refreshed.status_code == 200, refreshed.text

    assert hh.me(client, hh_tokens["access_token"]).status_code == 200
    second.clock.advance(1_209_600)
    assert hh.refresh(client, hh_tokens["refresh_token"]).status_code == 200


def test_corrupt_state_file_is_refused(tmp_path: Path) -> None:
    from authgate.devidp import create_devidp_app

    state = tmp_path / "devidp.json"
    state.write_text('{"version": 99}')
    with pytest.raises(ValueError, match="version"):
        create_devidp_app(DevIdpOptions(state_file=state))


REGISTERED = "http://example.com/oauth"


@pytest.mark.parametrize(
    "uri",
    [
        "http://example.com/oauth",
        "http://www.example.com/oauth",
        "http://www.example.com/oauth/sub/path",
        "http://example.com/oauth?lang=RU",
        "http://www.example.com/oauth/sub/path?lang=RU",
    ],
)
def test_hh_redirect_allowed(uri: str) -> None:
    # The examples of hh.ru's documentation (authorization_for_user.md).
    assert hh_redirect_allowed(uri, REGISTERED)


@pytest.mark.parametrize(
    "uri",
    [
        "https://example.com/oauth",
        "http://wwwexample.com/oauth",
        "http://wwwexample.com/",
        "http://example.com/oauths",
        "http://example.com:80/oauth",
        "http://example.com/oauth#frag",
        "http://user@example.com/oauth",
    ],
)
def test_hh_redirect_refused(uri: str) -> None:
    assert not hh_redirect_allowed(uri, REGISTERED)


def test_hh_redirect_keeps_registered_query_and_port() -> None:
    reg = "http://127.0.0.1:8000/cb?app=1"
    assert hh_redirect_allowed("http://127.0.0.1:8000/cb?x=2&app=1", reg)
    assert not hh_redirect_allowed("http://127.0.0.1:8000/cb?x=2", reg)
    assert not hh_redirect_allowed("http://127.0.0.1:8001/cb?app=1", reg)
    assert not hh_redirect_allowed("http://1.127.0.0.1:8000/cb?app=1", reg)  # no IP sub-domains


def test_oidc_redirect_rule() -> None:
    assert oidc_redirect_allowed("https://app.example/cb", ["https://app.example/cb"], False)
    assert not oidc_redirect_allowed("https://app.example/cb/x", ["https://app.example/cb"], False)
    assert oidc_redirect_allowed("http://localhost:5173/cb", [], True)
    assert not oidc_redirect_allowed("http://localhost:5173/cb", [], False)
    assert not oidc_redirect_allowed("http://127.0.0.1/cb#x", [], True)


def test_index_and_no_secrets_in_logs(
    make_devidp: Callable[..., RunningDevIdp], caplog: pytest.LogCaptureFixture
) -> None:
    idp = make_devidp(DevIdpOptions(hh=HhOptions(redirect_uris=[hh.CALLBACK])))
    caplog.set_level(logging.INFO, logger="authgate.devidp")
    index = idp.client().get("/").json()
    assert index["oidc"]["issuer"] == f"{idp.base_url}/oidc"
    assert index["hh"]["token_url"] == f"{idp.base_url}/hh/token"
    hh_tokens = hh.connect(idp)
    oidc_tokens = oidc.sign_in(idp)
    idp.client().get("/oidc/end_session", params={"id_token_hint": oidc_tokens["id_token"]})
    logged = eventually(lambda: caplog.text, "GET /oidc/end_session status=200")
    assert "GET /oidc/end_session status=200" in logged
    secrets = [*hh_tokens.values(), *oidc_tokens.values(), "dev-hh-secret"]
    for secret in secrets:
        if isinstance(secret, str) and len(secret) > 12:  # skip "bearer" and numbers
            assert secret not in logged
