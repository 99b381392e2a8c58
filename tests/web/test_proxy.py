"""``/api/v1/proxy/{provider}/{owner}/{path}`` through the real ASGI app, in front of the hh.ru
look-alike (devidp) and a small upstream of the test's own under the same ``api_base``, on one
fake clock (``tests.inprocess``). Requests cross ``httpx.ASGITransport`` both ways."""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from authgate.config import ProxySettings, Settings
from authgate.devidp.hh_model import HhError, HhModel
from authgate.protocol.rfc6749_oauth2 import TokenResponse
from authgate.providers.base import Account
from authgate.web.app import create_app
from authgate_vault_client import AsyncClient
from tests.inprocess import IDP, InProcess, make_inprocess

pytestmark = pytest.mark.anyio

GATEWAY = "http://gw.test"
LIFETIME = 100.0


@dataclass
class Upstream:
    """Routes under ``{api_base}/_test/``, in front of the devidp; it checks bearer tokens with
    the devidp's own model, so stale tokens get hh.ru's 403 there too."""

    model: HhModel | None = None
    calls: list[dict[str, Any]] = field(default_factory=list)
    # Called when a request reaches the provider's API, before it is answered (time passing
    # while the request is on its way).
    on_arrival: Callable[[], None] | None = None
    status_script: list[tuple[int, dict[str, str]]] = field(default_factory=list)

    def wrap(self, devidp: Any) -> Any:
        self.model = devidp.state.devidp.hh
        own = Starlette(routes=[
            Route("/hh/_test/echo/{rest:path}", self.echo,
                  methods=["GET", "HEAD", "POST", "PUT", "DELETE"]),
            Route("/hh/_test/big", self.big),
            Route("/hh/_test/status", self.status),
            Route("/hh/_test/redirect", self.redirect),
        ])

        async def app(scope: Any, receive: Any, send: Any) -> None:
            if (scope["type"] == "http" and scope["path"].startswith("/hh/")
                    and self.on_arrival is not None):
                arrival, self.on_arrival = self.on_arrival, None
                arrival()
            if scope["type"] == "http" and scope["path"].startswith("/hh/_test/"):
                await own(scope, receive, send)
            else:
                await devidp(scope, receive, send)
        return app

    def _refused(self, request: Request) -> Response | None:
        assert self.model is not None
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        try:
            self.model.check_access(token if scheme.lower() == "bearer" else "")
        except HhError as err:
            return JSONResponse({"errors": [{"type": "oauth", "value": err.description}]},
                                status_code=err.status)
        return None

    async def echo(self, request: Request) -> Response:
        body = await request.body()
        self.calls.append({"method": request.method, "headers": request.headers.raw,
                           "body": body})
        refused = self._refused(request)
        if refused is not None:
            return refused
        return JSONResponse(
            {"method": request.method, "raw_path": request.scope["raw_path"].decode(),
             "query": request.scope["query_string"].decode(),
             "headers": [[k.decode(), v.decode()] for k, v in request.headers.raw],
             "sha256": hashlib.sha256(body).hexdigest(), "length": len(body)},
            headers={"Connection": "X-Secret", "X-Secret": "s", "Keep-Alive": "timeout=5",
                     "Set-Cookie": "sid=provider", "Proxy-Agent": "x", "X-Fine": "yes"})

    async def big(self, request: Request) -> Response:
        size = int(request.query_params["n"])
        if request.query_params.get("declared") == "1":
            return Response(b"x" * size)

        async def chunks() -> AsyncIterator[bytes]:
            for _ in range(size // 1024):
                yield b"x" * 1024
        return StreamingResponse(chunks())

    async def status(self, request: Request) -> Response:
        self.calls.append({"method": request.method})
        status, headers = self.status_script.pop(0) if self.status_script else (200, {})
        return JSONResponse({"status": status}, status_code=status, headers=headers)

    async def redirect(self, request: Request) -> Response:
        return Response(status_code=302, headers={"Location": request.query_params["to"]})


@dataclass
class Env:
    inproc: InProcess
    upstream: Upstream
    app: Any

    def bot(self, **scope: object) -> httpx.AsyncClient:
        runtime = self.inproc.runtime
        key, _ = runtime.apikeys.create("bot", now=runtime.clock.now(),
                                        **scope)  # type: ignore[arg-type]
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app), base_url=GATEWAY,
                                 headers={"Authorization": f"Bearer {key}"})

    async def connect(self, owner: str) -> dict[str, Any]:
        grants = await self.inproc.control("hh/seed", {"count": 1})
        assert isinstance(grants, list)
        g: dict[str, Any] = grants[0]
        await self.inproc.runtime.vault.store_new_connection(
            self.inproc.provider, owner,
            TokenResponse(access_token=g["access_token"], refresh_token=g["refresh_token"],
                          expires_in=g["expires_in"]),
            Account(id=g["account_id"], name=None))
        return g

    async def stats(self) -> dict[str, int]:
        stats = await self.inproc.control("hh/stats")
        assert isinstance(stats, dict)
        return stats


def _env(tmp_path: Path, *, proxy: dict[str, Any] | None = None,
         proxy_paths: list[str] | None = None) -> Env:
    upstream = Upstream()

    def settings(s: Settings) -> Settings:
        hh = s.providers["hh"].model_copy(update={"proxy_paths": proxy_paths or []})
        return s.model_copy(update={"public_url": GATEWAY, "providers": {"hh": hh},
                                    "proxy": ProxySettings(**(proxy or {}))})

    inproc = make_inprocess(tmp_path, access_lifetime=LIFETIME, wrap=upstream.wrap,
                            settings=settings)
    return Env(inproc, upstream, create_app(inproc.runtime, run_engine=False))


@pytest.fixture
def env(tmp_path: Path) -> Env:
    return _env(tmp_path)


async def test_me_answers_the_owners_account_with_the_required_headers(env: Env) -> None:
    grant = await env.connect("tg:1")
    async with env.bot() as bot:
        me = await bot.get("/api/v1/proxy/hh/tg:1/me")
    assert me.status_code == 200, me.text
    assert me.json()["id"] == grant["account_id"]  # the devidp also insists on HH-User-Agent
    assert (await env.stats())["bad_user_agent"] == 0


async def test_a_token_that_expires_on_the_way_is_refreshed_once_then_retried(env: Env) -> None:
    await env.connect("tg:1")
    async with env.bot() as bot:
        env.inproc.clock.advance(LIFETIME - 1)
        assert (await bot.get("/api/v1/proxy/hh/tg:1/me")).status_code == 200
        stats = await env.stats()
        assert stats["token_requests"] == stats["token_not_expired"] == 0  # nothing sent early

        # The vault hands out the token at 99.5 s; hh.ru gets the call at 100.5 s: 403.
        env.inproc.clock.advance(0.5)
        env.upstream.on_arrival = lambda: env.inproc.clock.advance(1)
        me = await bot.get("/api/v1/proxy/hh/tg:1/me")
    assert me.status_code == 200, me.text
    stats = await env.stats()
    assert stats["me_expired"] == 1 and stats["me_ok"] == 2
    assert stats["token_requests"] == stats["refreshes_ok"] == 1
    assert stats["token_not_expired"] == stats["already_refreshed"] == 0


async def test_a_refusal_before_expiry_goes_back_as_it_came_without_a_refresh(env: Env) -> None:
    grant = await env.connect("tg:1")
    # hh.ru ends the token early (by its rules the refresh token still may not be used).
    await env.inproc.control("hh/expire", {"account_id": grant["account_id"]})
    async with env.bot() as bot:
        me = await bot.get("/api/v1/proxy/hh/tg:1/me")
    assert me.status_code == 403
    assert me.json() == {"errors": [{"type": "oauth", "value": "token_expired"}]}
    stats = await env.stats()
    assert stats["token_requests"] == 0 and stats["me_requests"] == 1


async def test_a_post_body_is_sent_again_on_the_retry(env: Env) -> None:
    await env.connect("tg:1")
    payload = bytes(range(256)) * 400  # 100 KiB
    env.inproc.clock.advance(LIFETIME - 0.5)
    env.upstream.on_arrival = lambda: env.inproc.clock.advance(1)
    async with env.bot() as bot:
        answer = await bot.post("/api/v1/proxy/hh/tg:1/_test/echo/resumes?x=1&y=%20",
                                content=payload)
    assert answer.status_code == 200, answer.text
    assert answer.json()["sha256"] == hashlib.sha256(payload).hexdigest()
    assert answer.json()["query"] == "x=1&y=%20"
    assert [c["body"] == payload for c in env.upstream.calls] == [True, True]


async def test_needs_reauth_is_409_like_the_token_api(env: Env) -> None:
    grant = await env.connect("tg:1")
    await env.inproc.control("hh/revoke", {"account_id": grant["account_id"]})
    env.inproc.clock.advance(LIFETIME + 1)
    async with env.bot() as bot:
        proxied = await bot.get("/api/v1/proxy/hh/tg:1/me")
        token = await bot.get("/api/v1/connections/hh/tg:1/token")
    assert proxied.status_code == token.status_code == 409
    assert proxied.json() == token.json()
    assert proxied.json()["error"] == "needs_reauth"


async def test_hop_by_hop_and_credentials_stay_behind(env: Env) -> None:
    await env.connect("tg:1")
    async with env.bot() as bot:
        key = bot.headers["authorization"]
        answer = await bot.get("/api/v1/proxy/hh/tg:1/_test/echo/x", headers={
            "Connection": "X-Drop-Me", "X-Drop-Me": "1", "Keep-Alive": "timeout=5",
            "TE": "trailers", "Upgrade": "websocket", "Proxy-Authorization": "Basic eA==",
            "Cookie": "authgate_session=secret", "X-Forwarded-For": "10.0.0.1",
            "X-Keep": "kept", "Accept": "text/plain"})
    assert answer.status_code == 200, answer.text
    sent = {k.lower(): v for k, v in answer.json()["headers"]}
    for name in ("x-drop-me", "keep-alive", "te", "upgrade", "proxy-authorization", "cookie",
                 "x-forwarded-for"):
        assert name not in sent, name
    assert sent.get("connection", "keep-alive") == "keep-alive"  # httpx's own, not the caller's
    assert sent["x-keep"] == "kept" and sent["accept"] == "text/plain"
    assert sent["host"] == "devidp.test"
    assert sent["authorization"].startswith("Bearer ") and sent["authorization"] != key
    assert sent["hh-user-agent"].startswith("AuthgateTests/1.0")
    for name in ("x-secret", "keep-alive", "set-cookie", "proxy-agent"):
        assert name not in answer.headers, name
    assert answer.headers["x-fine"] == "yes"


@pytest.mark.parametrize("raw_path", [
    b"/api/v1/proxy/hh/tg:1/../token",
    b"/api/v1/proxy/hh/tg:1/me/../../token",
    b"/api/v1/proxy/hh/tg:1/%2e%2e/token",
    b"/api/v1/proxy/hh/tg:1/./me",
    b"/api/v1/proxy/hh/tg:1/me%2F..%2F..%2Ftoken",
    b"/api/v1/proxy/hh/tg:1/me%2f..%2ftoken",
    b"/api/v1/proxy/hh/tg:1/me%5C..%5Ctoken",
    b"/api/v1/proxy/hh/tg:1/me\\..\\token",
    b"/api/v1/proxy/hh/tg:1//evil.test/me",
    b"/api/v1/proxy/hh/tg:1/http://evil.test/me",
    b"/api/v1/proxy/hh/tg:1/http:%2F%2Fevil.test/me",
    b"/api/v1/proxy/hh/tg:1/https:evil.test",
    b"/api/v1/proxy/hh/tg:1/me%00",
])
async def test_no_path_escapes_api_base(env: Env, raw_path: bytes) -> None:
    await env.connect("tg:1")
    async with env.bot() as bot:
        key = bot.headers["authorization"]
    status, body = await _raw_get(env.app, raw_path, key)
    assert status == 400, (raw_path, body)
    assert json.loads(body)["error"] == "invalid_proxy_path"
    assert (await env.stats())["requests_total"] == 0
    assert env.upstream.calls == []


async def _raw_get(app: Any, raw_path: bytes, authorization: str) -> tuple[int, bytes]:
    """One request with a path exactly as given (httpx would remove dot segments)."""
    messages = await _raw_exchange(app, raw_path, authorization)
    return (messages[0]["status"],
            b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body"))


async def _raw_exchange(app: Any, raw_path: bytes, authorization: str,
                        query: bytes = b"") -> list[dict[str, Any]]:
    """The ASGI messages the app sends for one GET, as a server would see them."""
    from urllib.parse import unquote_to_bytes

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
             "method": "GET", "scheme": "http", "server": ("gw.test", 80),
             "client": ("127.0.0.1", 5000), "root_path": "", "query_string": query,
             "raw_path": raw_path, "path": unquote_to_bytes(raw_path).decode("latin-1"),
             "headers": [(b"host", b"gw.test"), (b"authorization", authorization.encode())]}
    messages: list[dict[str, Any]] = []
    received = False

    async def receive() -> dict[str, Any]:
        nonlocal received
        if received:  # the client stays until the answer is complete
            await anyio.sleep_forever()
        received = True
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        messages.append(message)

    await app(scope, receive, send)
    return messages


async def test_only_the_listed_paths_are_proxied(tmp_path: Path) -> None:
    env = _env(tmp_path, proxy_paths=["/me", "/vacancies"])
    await env.connect("tg:1")
    async with env.bot() as bot:
        assert (await bot.get("/api/v1/proxy/hh/tg:1/me")).status_code == 200
        for path in ("_test/echo/x", "meta", "resumes/mine"):
            refused = await bot.get(f"/api/v1/proxy/hh/tg:1/{path}")
            assert refused.status_code == 403, path
            assert refused.json()["error"] == "proxy_path_not_allowed"
    assert env.upstream.calls == []


async def test_size_caps(tmp_path: Path) -> None:
    env = _env(tmp_path, proxy={"max_request_body": 4096, "max_response_body": 8192})
    await env.connect("tg:1")
    echo = "/api/v1/proxy/hh/tg:1/_test/echo/x"

    async def chunked() -> AsyncIterator[bytes]:
        for _ in range(8):
            yield b"y" * 1024

    async with env.bot() as bot:
        assert (await bot.post(echo, content=b"z" * 4096)).status_code == 200
        declared = await bot.post(echo, content=b"z" * 4097)
        assert declared.status_code == 413 and declared.json()["error"] == "body_too_large"
        streamed = await bot.post(echo, content=chunked())
        assert streamed.status_code == 413 and streamed.json()["error"] == "body_too_large"
        assert len(env.upstream.calls) == 1  # the declared one never left

        ok = await bot.get("/api/v1/proxy/hh/tg:1/_test/big?n=8192&declared=1")
        assert ok.status_code == 200 and len(ok.content) == 8192
        big = await bot.get("/api/v1/proxy/hh/tg:1/_test/big?n=9000&declared=1")
        assert big.status_code == 502 and big.json()["error"] == "proxy_response_too_large"
        key = bot.headers["authorization"]
    # Streamed without a length: the answer is cut off, never handed over as if whole. The app
    # returns without the last body message (no exception, so no traceback in the server's log),
    # and the server closes the connection: how HTTP/1.1 says an answer is incomplete.
    messages = await _raw_exchange(env.app, b"/api/v1/proxy/hh/tg:1/_test/big", key,
                                   query=b"n=10240")
    assert messages[0]["status"] == 200
    bodies = [m for m in messages if m["type"] == "http.response.body"]
    assert all(m.get("more_body") for m in bodies)
    assert sum(len(m["body"]) for m in bodies) <= 8192


async def test_each_key_has_its_own_rate(tmp_path: Path) -> None:
    env = _env(tmp_path, proxy={"burst": 3, "rate": 0.01})
    await env.connect("tg:1")
    async with env.bot() as first, env.bot() as second:
        statuses = [(await first.get("/api/v1/proxy/hh/tg:1/me")).status_code
                    for _ in range(4)]
        limited = await first.get("/api/v1/proxy/hh/tg:1/me")
        assert (await second.get("/api/v1/proxy/hh/tg:1/me")).status_code == 200
    assert statuses == [200, 200, 200, 429]
    assert limited.json()["error"] == "too_many_requests"
    assert int(limited.headers["retry-after"]) >= 1
    assert (await env.stats())["me_requests"] == 4


async def test_scoped_keys(env: Env) -> None:
    await env.connect("tg:1")
    await env.connect("slack:1")
    async with env.bot(owner_prefix="tg:") as scoped, env.bot(read_only=True) as reader:
        assert (await scoped.get("/api/v1/proxy/hh/tg:1/me")).status_code == 200
        outside = await scoped.get("/api/v1/proxy/hh/slack:1/me")
        absent = await scoped.get("/api/v1/proxy/hh/tg:404/me")
        assert outside.status_code == absent.status_code == 404
        assert outside.json()["detail"].replace("slack:1", "X") == \
            absent.json()["detail"].replace("tg:404", "X")
        assert (await reader.get("/api/v1/proxy/hh/slack:1/me")).status_code == 200
        assert (await reader.head("/api/v1/proxy/hh/slack:1/_test/echo/x")).status_code == 200
        for method in ("POST", "PUT", "DELETE"):
            refused = await reader.request(method, "/api/v1/proxy/hh/slack:1/_test/echo/x")
            assert refused.status_code == 403 and refused.json()["error"] == "read_only_key"
    assert [c["method"] for c in env.upstream.calls] == ["HEAD"]


async def test_redirects_stay_under_api_base_or_are_refused(env: Env) -> None:
    await env.connect("tg:1")
    base = "/api/v1/proxy/hh/tg:1/_test/redirect?to="
    async with env.bot() as bot:
        inside = await bot.get(base + "/hh/vacancies/1%3Fx")
        assert inside.status_code == 302
        assert inside.headers["location"] == f"{GATEWAY}/api/v1/proxy/hh/tg:1/vacancies/1?x"
        relative = await bot.get(base + "../me")
        assert relative.headers["location"] == f"{GATEWAY}/api/v1/proxy/hh/tg:1/me"
        for target in ("http://evil.test/hh/me", f"{IDP}/oidc/authorize",
                       "//evil.test/hh/me", "https://devidp.test/hh/me", f"{IDP}/hhx"):
            refused = await bot.get(base + target.replace("&", "%26"))
            assert refused.status_code == 502, target
            assert refused.json()["error"] == "proxy_redirect_refused"


async def test_a_short_retry_after_is_waited_out_once(env: Env) -> None:
    await env.connect("tg:1")
    status = "/api/v1/proxy/hh/tg:1/_test/status"
    async with env.bot() as bot:
        env.upstream.status_script = [(503, {"Retry-After": "0"}), (200, {})]
        assert (await bot.get(status)).status_code == 200
        env.upstream.status_script = [(429, {"Retry-After": "0"}), (429, {"Retry-After": "0"})]
        assert (await bot.get(status)).status_code == 429  # retried once only
        env.upstream.status_script = [(429, {"Retry-After": "60"}), (200, {})]
        long = await bot.get(status)
        assert long.status_code == 429 and long.headers["retry-after"] == "60"
    assert len(env.upstream.calls) == 5


async def test_unknown_provider_and_missing_connection(env: Env) -> None:
    async with env.bot() as bot:
        assert (await bot.get("/api/v1/proxy/nope/tg:1/me")).status_code == 404
        missing = await bot.get("/api/v1/proxy/hh/tg:9/me")
        assert missing.status_code == 404 and missing.json()["error"] == "not_found"
        anonymous = await httpx.AsyncClient(
            transport=httpx.ASGITransport(app=env.app), base_url=GATEWAY).get(
            "/api/v1/proxy/hh/tg:9/me")
        assert anonymous.status_code == 401


async def test_the_async_clients_proxy(env: Env) -> None:
    grant = await env.connect("tg:12345")
    runtime = env.inproc.runtime
    key, _ = runtime.apikeys.create("bot", now=runtime.clock.now())
    async with AsyncClient(GATEWAY, key, transport=httpx.ASGITransport(app=env.app)) as vault, \
            vault.proxy("hh", owner="tg:12345") as hh:
        me = await hh.get("/me")
        echo = await hh.post("_test/echo/negotiations", params={"q": "a b"}, json={"x": 1})
    assert me.status_code == 200 and me.json()["id"] == grant["account_id"]
    assert echo.json()["raw_path"] == "/hh/_test/echo/negotiations"
    assert echo.json()["query"] == "q=a+b"
