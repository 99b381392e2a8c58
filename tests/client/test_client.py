"""The vault clients' token calls and their errors, against a vault served on loopback; and the
client as a distribution of its own that ``authgate`` re-exports."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

import authgate
import authgate.client
import authgate.errors
import authgate_vault_client
from authgate_vault_client import (
    AsyncClient,
    AuthgateError,
    Client,
    NeedsReauth,
    NotFound,
    RateLimited,
    Token,
    Unauthorized,
    Unavailable,
)
from tests.client.double import API_KEY, VaultDouble

CLIENT_DIST = Path(__file__).resolve().parents[2] / "clients" / "python"


def test_token_is_what_the_vault_answered(double: VaultDouble):
    with Client(double.url + "/", API_KEY) as vault:
        token = vault.token("hh", owner="tg:12345")
    assert token == Token(access_token="tok-1", token_type="bearer", expires_at=None,
                          expires_in=3600)


@pytest.mark.anyio
async def test_async_token_is_what_the_vault_answered(double: VaultDouble):
    async with AsyncClient(double.url, API_KEY) as vault:
        token = await vault.token("hh", owner="tg:12345")
    assert (token.access_token, token.expires_in) == ("tok-1", 3600)


ERRORS = [
    ("gone", NeedsReauth, "needs_reauth", "hh: token was revoked", 409),
    ("nobody", NotFound, "not_found", "no hh connection", 404),
    ("busy", RateLimited, "rate_limited", "slow down", 429),
    ("broken", Unavailable, "http_502", "Bad Gateway", 502),  # a proxy's page, not JSON
]


@pytest.mark.parametrize(("owner", "cls", "error", "detail", "status"), ERRORS)
def test_error_answers_raise_typed_errors(double: VaultDouble, owner: str,
                                          cls: type[AuthgateError], error: str, detail: str,
                                          status: int):
    with Client(double.url, API_KEY) as vault, pytest.raises(cls) as caught:
        vault.token("hh", owner)
    assert (caught.value.error, caught.value.detail, caught.value.status) == (error, detail,
                                                                              status)
    assert str(caught.value) == f"{error}: {detail}"


@pytest.mark.anyio
@pytest.mark.parametrize(("owner", "cls", "error", "detail", "status"), ERRORS)
async def test_async_error_answers_raise_typed_errors(double: VaultDouble, owner: str,
                                                      cls: type[AuthgateError], error: str,
                                                      detail: str, status: int):
    async with AsyncClient(double.url, API_KEY) as vault:
        with pytest.raises(cls) as caught:
            await vault.token("hh", owner)
    assert (caught.value.error, caught.value.detail, caught.value.status) == (error, detail,
                                                                              status)


def test_retry_after_comes_with_rate_limited(double: VaultDouble):
    with Client(double.url, API_KEY) as vault, pytest.raises(RateLimited) as caught:
        vault.token("hh", "busy")
    assert caught.value.retry_after == 7.0


def test_a_wrong_api_key_is_unauthorized(double: VaultDouble):
    with Client(double.url, "agk_wrong") as vault, pytest.raises(Unauthorized) as caught:
        vault.token("hh", "tg:1")
    assert (caught.value.error, caught.value.status) == ("unauthorized", 401)


def test_authgate_reexports_the_client_and_shares_its_errors():
    assert authgate.Client is authgate.client.Client is Client
    assert authgate.AsyncClient is AsyncClient
    assert authgate.VaultAuth is authgate_vault_client.VaultAuth
    assert authgate.Token is Token
    # What the old client raised is still caught by the old names …
    for name in ("AuthgateError", "NeedsReauth", "NotFound", "Unauthorized"):
        assert getattr(authgate.errors, name) is getattr(authgate_vault_client, name)
    # … and the server's own errors stand on the same root.
    assert issubclass(authgate.errors.RateLimited, RateLimited)
    assert issubclass(authgate.errors.ProviderError, AuthgateError)


def test_the_client_distribution_needs_nothing_of_the_server():
    project = tomllib.loads((CLIENT_DIST / "pyproject.toml").read_text())["project"]
    assert [d.split(">")[0] for d in project["dependencies"]] == ["httpx", "anyio"]
    # The package imports its parts on first use (the server's CLI needs only the errors).
    code = ("import json, sys, authgate_vault_client; authgate_vault_client.Client; "
            "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env={**os.environ, "PYTHONPATH": str(CLIENT_DIST / "src")},
                            timeout=60)
    assert result.returncode == 0, result.stderr
    imported = set(json.loads(result.stdout))
    assert "httpx" in imported
    server_side = {"authgate", "starlette", "sqlalchemy", "pydantic", "authlib", "cryptography",
                   "uvicorn", "typer", "jinja2"}
    assert not imported & server_side
