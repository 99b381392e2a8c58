"""Form tokens bound to the session (review finding: a planted ``authgate_csrf`` cookie plus the
token the site gave the attacker for it must not post a form as someone else)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from authgate.runtime import Runtime
from authgate.signin.passwords import hash_password
from tests.web.test_pages import _client

# Passwords at argon2's lowest cost: these tests are about form tokens, not hashing.
pytestmark = pytest.mark.usefixtures("cheap_passwords")

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def _runtime(client: Any) -> Runtime:
    runtime: Runtime = client.app.app.state.runtime  # TestClient -> proxy headers -> Starlette
    return runtime


@pytest.fixture(params=["http://127.0.0.1:8000", "https://auth.example"])
def gateway(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[httpx.Client]:
    yield from _client(tmp_path, request.param)


def _token(client: httpx.Client, path: str = "/login") -> str:
    match = CSRF.search(client.get(path).text)
    assert match
    return match.group(1)


def _sign_in(client: httpx.Client, username: str, password: str) -> None:
    ok = client.post("/login", data={"username": username, "password": password,
                                     "csrf_token": _token(client)})
    assert ok.status_code == 303, ok.text


def _csrf_cookie(client: httpx.Client) -> tuple[str, str]:
    for name in ("__Host-authgate_csrf", "authgate_csrf"):
        if client.cookies.get(name):
            return name, client.cookies[name]
    raise AssertionError(dict(client.cookies))


def test_a_planted_cookie_and_its_token_do_not_post_the_console_as_the_admin(
        gateway: httpx.Client) -> None:
    runtime = _runtime(gateway)
    now = runtime.clock.now()
    for name, role in (("root", "admin"), ("carl", "user"), ("mal", "user")):
        runtime.signin.users.add(name, role=role, now=now,
                                 password_hash=hash_password(f"{name} password"))
    # The attacker signs in themselves (or not at all) and keeps their cookie and its token.
    attacker = gateway
    _sign_in(attacker, "mal", "mal password")
    attacker_token = _token(attacker, "/console")
    cookie_name, planted = _csrf_cookie(attacker)
    attacker.cookies.clear()
    anonymous_token = _token(attacker)
    _name, anonymous_value = _csrf_cookie(attacker)

    attacker.cookies.clear()
    _sign_in(attacker, "root", "root password")  # now the same client is the admin's browser
    for value, token in ((planted, attacker_token), (anonymous_value, anonymous_token)):
        attacker.cookies.set(cookie_name, value)
        forged = attacker.post("/console/users/role", data={
            "username": "carl", "role": "admin", "csrf_token": token})
        assert forged.status_code == 403 and "csrf_failed" in forged.text
    assert runtime.signin.users.require("carl").role == "user"
    # The admin's own form still works.
    attacker.cookies.set(cookie_name, planted)
    own = attacker.post("/console/users/role", data={
        "username": "carl", "role": "admin", "csrf_token": _token(attacker, "/console/users")})
    assert own.status_code == 303 and runtime.signin.users.require("carl").role == "admin"


def test_under_https_the_cookie_is_host_only_and_a_plain_name_is_not_read(
        tmp_path: Path) -> None:
    for client in _client(tmp_path, "https://auth.example"):
        runtime = _runtime(client)
        runtime.signin.users.add("mal", role="user", now=runtime.clock.now(),
                                 password_hash=hash_password("mal password"))
        page = client.get("/login")
        cookie = next(c for c in page.headers.get_list("set-cookie") if "csrf" in c)
        assert cookie.startswith("__Host-authgate_csrf=") and "secure" in cookie.lower()
        assert "domain" not in cookie.lower()
        # Login CSRF: a cookie planted under the old name (a sibling sub-domain can set that
        # one) together with the attacker's token for it signs nobody in.
        token = CSRF.search(page.text).group(1)  # type: ignore[union-attr]
        value = client.cookies["__Host-authgate_csrf"]
        victim = httpx.Client(transport=client._transport, base_url="https://auth.example")
        victim.cookies.set("authgate_csrf", value)
        login = victim.post("/login", data={"username": "mal", "password": "mal password",
                                            "csrf_token": token})
        assert login.status_code == 403 and "authgate_session" not in login.headers.get(
            "set-cookie", "")


def test_a_cross_site_sign_out_is_refused(tmp_path: Path) -> None:
    """Review finding: a POST to /logout with no Origin, ``Origin: null`` or only a foreign
    Referer signed the user out."""
    for client in _client(tmp_path, "http://127.0.0.1:8000"):
        runtime = _runtime(client)
        runtime.signin.users.add("lou", role="user", now=runtime.clock.now(),
                                 password_hash=hash_password("lou password"))
        _sign_in(client, "lou", "lou password")
        for headers in ({}, {"Origin": "null"}, {"Referer": "https://evil.example/page"},
                        {"Origin": "https://evil.example"}):
            refused = client.post("/logout", headers=headers)
            assert refused.status_code == 403, headers
            assert client.get("/auth/me").status_code == 200, headers
        # The sign-out form carries its token; a same-origin Origin is enough as well.
        out = client.post("/logout", data={"csrf_token": _token(client, "/logout")},
                          headers={"Origin": "null"})
        assert out.status_code == 303 and client.get("/auth/me").status_code == 401
        _sign_in(client, "lou", "lou password")
        assert client.post("/logout", headers={"Origin": "http://127.0.0.1:8000"}
                           ).status_code == 303
        # A panel's script signs out with its Bearer token, JSON in and out.
        _sign_in(client, "lou", "lou password")
        token = client.cookies["authgate_session"]
        client.cookies.clear()
        panel = client.post("/logout", headers={"Authorization": f"Bearer {token}",
                                                "Accept": "application/json"})
        assert panel.status_code == 200 and panel.json()["signed_out"] is True
        assert client.get("/auth/me", headers={"Authorization": f"Bearer {token}"}
                          ).status_code == 401
