"""The gateway's pages through its real ASGI app: error pages in the reader's language, one
cookie policy for every cookie, CORS only for the panel routes, the console under /console."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from starlette.testclient import TestClient

from authgate.runtime import Runtime
from authgate.web.app import create_app
from tests.inprocess import hh_settings

PANEL = "https://panel.example"


def _client(tmp_path: Path, public_url: str) -> Iterator[httpx.Client]:
    base = hh_settings(tmp_path / "data")
    settings = base.model_copy(update={
        "public_url": public_url,
        "login": base.login.model_copy(update={"allowed_redirects": [PANEL]})})
    runtime = Runtime.open(settings)
    app = create_app(runtime, run_engine=False)
    # Starlette's TestClient: real ASGI requests into the app, without a socket.
    yield TestClient(app, base_url=public_url, follow_redirects=False)
    runtime.engine.dispose()


@pytest.fixture
def https_gateway(tmp_path: Path) -> Iterator[httpx.Client]:
    yield from _client(tmp_path, "https://auth.example")


@pytest.fixture
def http_gateway(tmp_path: Path) -> Iterator[httpx.Client]:
    yield from _client(tmp_path, "http://127.0.0.1:8000")


def test_error_pages_speak_the_readers_language(http_gateway: httpx.Client) -> None:
    ru = http_gateway.get("/connect/hh?session=not-a-link",
                          headers={"Accept-Language": "ru", "Accept": "text/html"})
    assert 400 <= ru.status_code < 500
    assert 'lang="ru"' in ru.text and "Что-то пошло не так" in ru.text
    assert "Попросите у бота новую" in ru.text
    en = http_gateway.get("/connect/hh?session=not-a-link", headers={"Accept": "text/html"})
    assert en.status_code == ru.status_code and "Something went wrong" in en.text
    code = en.text.split("<code>")[1].split("</code>")[0] if "<code>" in en.text else None
    assert code is None or code in ru.text  # the machine-readable code is the same on both
    unknown = http_gateway.get("/no/such/page", headers={"Accept-Language": "ru"})
    assert unknown.status_code == 404 and "По этому адресу ничего нет." in unknown.text


@pytest.mark.parametrize("secure", [True, False])
def test_every_cookie_follows_one_policy(secure: bool, https_gateway: httpx.Client,
                                         http_gateway: httpx.Client) -> None:
    client = https_gateway if secure else http_gateway
    page = client.get("/login?lang=ru")
    cookies = page.headers.get_list("set-cookie")
    names = {c.split("=", 1)[0] for c in cookies}
    assert {"authgate_lang", "__Host-authgate_csrf" if secure else "authgate_csrf"} <= names
    for cookie in cookies:
        flags = {part.strip().lower() for part in cookie.split(";")[1:]}
        assert "httponly" in flags and "samesite=lax" in flags and "path=/" in flags, cookie
        assert ("secure" in flags) is secure, cookie


def test_cors_only_for_panel_origins_and_only_preflights(http_gateway: httpx.Client) -> None:
    ok = http_gateway.options("/auth/me", headers={
        "Origin": PANEL, "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "Authorization"})
    assert ok.status_code == 200 and ok.headers["access-control-allow-origin"] == PANEL
    foreign = http_gateway.options("/auth/me", headers={
        "Origin": "https://evil.example", "Access-Control-Request-Method": "GET"})
    assert foreign.status_code == 400
    assert "access-control-allow-origin" not in foreign.headers
    assert http_gateway.options("/auth/token").status_code == 405
    me = http_gateway.get("/auth/me", headers={"Origin": PANEL})
    assert me.status_code == 401 and me.headers["access-control-allow-origin"] == PANEL
    # The bots' API is not for browsers on other origins.
    api = http_gateway.get("/api/v1/connections", headers={"Origin": PANEL})
    assert "access-control-allow-origin" not in api.headers


def test_console_lives_under_one_prefix(http_gateway: httpx.Client) -> None:
    assert http_gateway.get("/").headers["location"] == "/console"
    assert http_gateway.get("/console/").headers["location"] == "/console"
    for path in ("/console", "/console/users", "/console/connections"):
        page = http_gateway.get(path)
        assert page.status_code == 303, path
        assert page.headers["location"].startswith("/login?next=%2Fconsole"), path
    assert http_gateway.get("/console/connections.json").status_code == 401
