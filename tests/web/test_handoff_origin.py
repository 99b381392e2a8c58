"""A handoff code works only for the panel origin it was made for (security review, finding 13),
through the real ASGI app."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.web.test_pages import PANEL, _client
from tests.web.test_session_api import _session

GATEWAY = "http://127.0.0.1:8000"


@pytest.fixture
def gateway(tmp_path: Path) -> Iterator[httpx.Client]:
    yield from _client(tmp_path, GATEWAY)


def _handoff(gateway: httpx.Client, token: str) -> str:
    """Signed in already, /login?next=<panel> goes straight back with a code."""
    back = gateway.get("/login", params={"next": f"{PANEL}/app"},
                       headers={"Cookie": f"authgate_session={token}"})
    assert back.status_code == 303, back.text
    location = back.headers["location"]
    assert location.startswith(f"{PANEL}/app?")
    return parse_qs(urlsplit(location).query)["handoff"][0]


def _trade(gateway: httpx.Client, code: str, origin: str | None) -> httpx.Response:
    headers = {"Origin": origin} if origin is not None else {}
    return gateway.post("/auth/token", json={"code": code}, headers=headers)


def test_the_panel_that_asked_trades_its_code(gateway: httpx.Client) -> None:
    code = _handoff(gateway, _session(gateway, "pat"))
    traded = _trade(gateway, code, PANEL)
    assert traded.status_code == 200, traded.text
    assert traded.json()["username"] == "pat"
    assert traded.headers["access-control-allow-origin"] == PANEL


@pytest.mark.parametrize("origin", [None, "null", GATEWAY, "https://evil.example",
                                    "http://panel.example", "https://panel.example.evil"])
def test_a_code_is_refused_elsewhere_and_used_up(gateway: httpx.Client,
                                                 origin: str | None) -> None:
    code = _handoff(gateway, _session(gateway, "pat"))
    refused = _trade(gateway, code, origin)
    assert refused.status_code == 400, refused.text
    assert refused.json()["error"] == "invalid_handoff"
    assert "access_token" not in refused.text
    # Burnt: whoever held a leaked code had one try, and not even the panel gets a second.
    late = _trade(gateway, code, PANEL)
    assert late.status_code == 400 and late.json()["error"] == "invalid_handoff"


def test_a_form_post_from_the_panel_works_too(gateway: httpx.Client) -> None:
    code = _handoff(gateway, _session(gateway, "pat"))
    traded = gateway.post("/auth/token", data={"code": code}, headers={"Origin": PANEL})
    assert traded.status_code == 200, traded.text
