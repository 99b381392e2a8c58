"""Every route of the gateway, fed garbage: never a 5xx, never a stack trace, nothing lost.

Hypothesis generates requests for each route the application really has (read from its routing
table, so a new route is covered without touching this file): odd path parameters, query
strings, bodies (JSON, form, raw bytes), junk or valid credentials (API key, an administrator's
session cookie, a matching CSRF token), JSON or HTML. The gateway runs in-process with the
development identity provider behind it (``httpx.ASGITransport``, no sockets, no mocks of our
code). Afterwards a connection that no generated request may touch must be intact.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.routing import Mount, Route

from authgate.clock import FrozenClock
from authgate.config import ProviderSettings, Settings
from authgate.devidp import DevIdpOptions, HhOptions, create_devidp_app
from authgate.protocol.rfc6749_oauth2 import TokenResponse
from authgate.providers.base import Account
from authgate.runtime import Runtime
from authgate.signin.passwords import hash_password
from authgate.web.app import create_app
from tests.harness import assert_no_secrets
from tests.inprocess import IDP, UA, cheap_password_hashing

GATEWAY = "http://gw.test"
KEPT_OWNER = "kept:1"  # generated owners never equal this (see _text)


@dataclass
class Gateway:
    portal: BlockingPortal  # one event loop for the whole module, as under uvicorn
    client: httpx.AsyncClient  # into the app itself; its exceptions are raised, not hidden
    runtime: Runtime
    routes: list[tuple[str, str]]  # (method, path template)
    api_key: str
    session: str
    csrf: str
    kept_token: str


def _routes(app: Any) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    for route in app.routes:
        if isinstance(route, Route):
            for method in sorted(route.methods or {"GET"}):
                if method != "HEAD":
                    found.append((method, route.path))
        elif isinstance(route, Mount):
            found.append(("GET", route.path + "/{path}"))
    return found


def _settings(data_dir: Path) -> Settings:
    hh = ProviderSettings(
        kind="hh", display_name="HeadHunter", client_id="DEVHHCLIENT",
        client_secret="dev-hh-secret", user_agent=UA, authorize_url=f"{IDP}/hh/oauth/authorize",
        token_url=f"{IDP}/hh/token", api_base=f"{IDP}/hh", use=["connect"],
        callback_path="/callback")
    dev = ProviderSettings(
        kind="oidc", display_name="Dev ZITADEL", issuer=f"{IDP}/oidc", client_id="authgate-dev",
        client_secret="dev-oidc-secret", use=["login"],
        roles_claim="urn:zitadel:iam:org:project:roles", roles_map={"admin": "admin"})
    return Settings(public_url=GATEWAY, data_dir=data_dir, providers={"hh": hh, "dev": dev})


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    # Generated sign-ins check passwords: at argon2's lowest cost, since the point here is what
    # the routes answer, not what a hash costs.
    with cheap_password_hashing():
        yield from _gateway(tmp_path_factory)


def _gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    clock = FrozenClock()
    idp_app = create_devidp_app(DevIdpOptions(
        base_url=IDP, hh=HhOptions(redirect_uris=[f"{GATEWAY}/"]),
        clock=lambda: clock.now().timestamp()))
    transport = httpx.ASGITransport(app=idp_app)
    runtime = Runtime.open(_settings(tmp_path_factory.mktemp("bad-input")), clock=clock,
                           transport=transport)
    app = create_app(runtime, run_engine=False)
    svc = runtime.signin
    admin = svc.users.add("admin", role="admin", now=clock.now(),
                          password_hash=hash_password("admin password"))
    session = svc.sessions.start(admin, provider="local", ip=None, user_agent=None).token
    api_key, _view = runtime.apikeys.create("fuzz", now=clock.now())
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=GATEWAY)
    with start_blocking_portal() as portal:
        page = portal.call(client.get, "/login")
        match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert match, page.text
        kept = portal.call(_connect_kept, runtime, transport)
        yield Gateway(portal, client, runtime, _routes(getattr(app, "app", app)), api_key,
                      session, match.group(1), kept)
        portal.call(client.aclose)
        portal.call(runtime.aclose)


def _send(gw: Gateway, **request: Any) -> httpx.Response:
    return gw.portal.call(functools.partial(gw.client.request, **request))


async def _connect_kept(runtime: Runtime, transport: httpx.ASGITransport) -> str:
    async with httpx.AsyncClient(transport=transport, base_url=IDP) as idp:
        grant = (await idp.post("/_devidp/hh/seed", json={"count": 1, "expired": False})).json()[0]
    await runtime.vault.store_new_connection(
        runtime.providers["hh"], KEPT_OWNER,
        TokenResponse(access_token=grant["access_token"], refresh_token=grant["refresh_token"],
                      expires_in=grant["expires_in"]),
        Account(id=grant["account_id"], name=None))
    return str(grant["access_token"])


_text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40).filter(
    lambda s: s != KEPT_OWNER)
_segment = st.one_of(st.sampled_from(["hh", "dev", "nope", "admin", "1", "0", "-1", "%2F..",
                                      "callback", ""]), _text)
_params = st.dictionaries(st.sampled_from(["next", "state", "code", "error", "session", "lang",
                                           "role", "q", "result", "notice", "iss", "provider"])
                          | _text, _text, max_size=5)
_body = st.one_of(
    st.none(),
    st.tuples(st.just("json"), st.recursive(
        st.none() | st.booleans() | st.integers() | _text,
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_text, inner, max_size=3),
        max_leaves=8)),
    st.tuples(st.just("form"), st.dictionaries(
        st.sampled_from(["username", "password", "csrf_token", "next", "provider", "owner",
                         "name", "role", "key_id"]) | _text, _text, max_size=6)),
    st.tuples(st.just("raw"), st.binary(max_size=200)),
)


@st.composite
def requests(draw: st.DrawFn, gw: Gateway, route: tuple[str, str]) -> dict[str, Any]:
    method, template = route
    path = re.sub(r"\{[^}]+\}", lambda _m: quote(draw(_segment), safe="%") or "x", template)
    headers: dict[str, str | bytes] = {"Accept": draw(st.sampled_from(
        ["application/json", "text/html", "*/*", b"garbage/\xff"]))}
    auth = draw(st.sampled_from(["none", "key", "junk", "basic"]))
    if auth != "none":
        headers["Authorization"] = {"key": f"Bearer {gw.api_key}", "basic": "Basic Og==",
                                    "junk": "Bearer " + draw(st.text("abc._-", max_size=60))}[auth]
    cookies = {}
    if draw(st.booleans()):
        cookies["authgate_session"] = gw.session if draw(st.booleans()) else draw(
            st.text("abcdefghijklmnop.-_=", max_size=80))
    if draw(st.booleans()):
        headers["Origin"] = draw(st.sampled_from([GATEWAY, "null", "https://evil.example"]))
    body = draw(_body)
    kwargs: dict[str, Any] = {}
    if body is not None and method not in ("GET", "HEAD"):
        kind, value = body
        if kind == "json":
            kwargs["json"] = value
        elif kind == "form":
            if draw(st.booleans()):
                value = {**value, "csrf_token": gw.csrf}
            kwargs["data"] = value
        else:
            kwargs["content"] = value
    return {"method": method, "url": path, "params": draw(_params), "headers": headers,
            "cookies": cookies, **kwargs}


# Requests generated for each route the app has. Drawn from all routes at once, 1000 requests met
# some routes only 8 times (and 500 left POST /login out); per route, every one gets as many.
PER_ROUTE = 12


def test_no_input_gets_a_5xx_or_a_stack_trace(gateway: Gateway,
                                               caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="authgate")
    seen: set[int] = set()

    @settings(max_examples=PER_ROUTE, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    @given(st.data())
    def one_request(route: tuple[str, str], data: st.DataObject) -> None:
        request = data.draw(requests(gateway, route))
        gateway.client.cookies.clear()
        gateway.client.cookies.set("authgate_csrf", _csrf_cookie)
        for name, value in request.pop("cookies").items():
            gateway.client.cookies.set(name, value)
        response = _send(gateway, **request)
        seen.add(response.status_code)
        assert response.status_code < 500, (request, response.status_code, response.text[:500])
        assert "Traceback" not in response.text

    _csrf_cookie = gateway.client.cookies.get("authgate_csrf") or ""
    for route in gateway.routes:
        one_request(route)
    assert any(200 <= s < 400 for s in seen) and any(400 <= s < 500 for s in seen), seen
    # Refusing bad input is routine: nothing at ERROR level, and no credential in any line.
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == []
    assert_no_secrets([caplog.text], [gateway.api_key, gateway.session, gateway.csrf])

    # The connection no generated request could name is untouched and still serves its token.
    answer = _send(gateway, method="GET", url=f"/api/v1/connections/hh/{KEPT_OWNER}/token",
                   headers={"Authorization": f"Bearer {gateway.api_key}"})
    assert answer.status_code == 200, answer.text
    assert answer.json()["access_token"] == gateway.kept_token
