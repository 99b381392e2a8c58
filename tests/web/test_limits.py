"""What anonymous requests can make the gateway do (review findings): read bodies of any size,
read its metrics, or build redirects from their Host header."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import anyio
import httpx
import pytest
from sqlalchemy import func, select
from starlette.testclient import TestClient

from authgate.config import ProviderSettings, Settings
from authgate.devidp import DevIdpOptions, create_devidp_app
from authgate.devidp.options import OidcOptions
from authgate.housekeeping import purge_stale
from authgate.runtime import Runtime
from authgate.signin.audit import FAILURE, LOCAL, REFUSED, Client
from authgate.store.models import AuthFlow
from authgate.web.app import create_app
from tests.inprocess import IDP
from tests.web.test_pages import _client


@pytest.fixture
def gateway(tmp_path: Path) -> Iterator[httpx.Client]:
    yield from _client(tmp_path, "http://127.0.0.1:8000")


def test_request_bodies_are_limited_to_one_megabyte(gateway: httpx.Client) -> None:
    big = b"username=x&password=" + b"p" * (1024 * 1024)
    declared = gateway.post("/login", content=big,
                            headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert declared.status_code == 413

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
        for _ in range(40):
            yield b"{" + b" " * 64 * 1024

    streamed = gateway.post("/api/v1/connect-sessions", content=chunks(),
                            headers={"Content-Type": "application/json",
                                     "Authorization": "Bearer x"})
    assert streamed.status_code in (401, 413)  # the key is checked first: nothing was read
    streamed = gateway.post("/auth/token", content=chunks(),
                            headers={"Content-Type": "application/json"})
    assert streamed.status_code == 413 and streamed.json()["error"] == "body_too_large"
    small = gateway.post("/auth/token", json={"code": "x" * 1000})
    assert small.status_code == 400


def test_metrics_only_for_trusted_peers(gateway: httpx.Client) -> None:
    # TestClient's peer is "testclient", like any address outside trusted_proxies.
    assert gateway.get("/metrics").status_code == 404
    app = gateway.app  # type: ignore[attr-defined]
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))

    async def scrape(headers: dict[str, str]) -> httpx.Response:
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000") as c:
            return await c.get("/metrics", headers=headers)

    local = anyio.run(scrape, {})
    assert local.status_code == 200 and "authgate_" in local.text
    # Forwarded by the proxy on loopback for a client on the internet: not for them.
    forwarded = anyio.run(scrape, {"X-Forwarded-For": "198.51.100.7"})
    assert forwarded.status_code == 404


def test_no_redirect_is_built_from_the_clients_host(gateway: httpx.Client) -> None:
    for path in ("/login/", "/auth/verify/", "/healthz/"):
        r = gateway.get(path, headers={"Host": "evil.example"})
        assert "evil.example" not in r.headers.get("location", ""), path
        assert r.status_code == 404, path


def _oidc_gateway(tmp_path: Path) -> tuple[Runtime, TestClient]:
    """The gateway with an OpenID provider: the devidp app, in-process (no sockets)."""
    idp = create_devidp_app(DevIdpOptions(base_url=IDP, oidc=OidcOptions(
        redirect_uris=["http://gw.test/auth/dev/callback"])))
    settings = Settings(public_url="http://gw.test", data_dir=tmp_path / "data", providers={
        "dev": ProviderSettings(kind="oidc", issuer=f"{IDP}/oidc", client_id="authgate-dev",
                                client_secret="dev-oidc-secret")})
    runtime = Runtime.open(settings, transport=httpx.ASGITransport(app=idp))
    return runtime, TestClient(create_app(runtime, run_engine=False), base_url="http://gw.test",
                               follow_redirects=False)


def test_one_address_cannot_fill_the_flow_table(tmp_path: Path) -> None:
    """Review finding: repeated GET /auth/<provider>/login stored ~22 flow rows a second."""
    runtime, client = _oidc_gateway(tmp_path)
    try:
        answers = [client.get("/auth/dev/login").status_code for _ in range(60)]
        assert answers.count(302) == 20 and answers.count(429) == 40
        limited = client.get("/auth/dev/login")
        assert 1 <= int(limited.headers["retry-after"]) <= 30
        with runtime.db() as s:
            assert s.scalar(select(func.count()).select_from(AuthFlow)) == 20
        other = client.get("/auth/dev/login", headers={"X-Forwarded-For": "198.51.100.9"})
        assert other.status_code in (302, 429)  # "testclient" is no trusted proxy: same address
    finally:
        runtime.engine.dispose()


def test_refused_attempts_are_kept_shorter_and_smaller(tmp_path: Path) -> None:
    runtime = Runtime.open(Settings(data_dir=tmp_path / "data"))
    try:
        log, now = runtime.signin.log, runtime.clock.now()
        agent = Client(ip="192.0.2.1", user_agent="A" * 512)
        log.record(now=now, provider=LOCAL, result=REFUSED, client=agent, username="x",
                   reason="too_many_attempts")
        log.record(now=now, provider=LOCAL, result=FAILURE, client=agent, username="x",
                   reason="wrong_password")
        refused, failed = sorted(log.recent(), key=lambda e: e.result, reverse=True)
        assert refused.result == REFUSED and len(refused.user_agent or "") == 128
        assert len(failed.user_agent or "") == 512
        purge_stale(runtime.db, now + timedelta(days=15))
        assert [e.result for e in log.recent()] == [FAILURE]
        purge_stale(runtime.db, now + timedelta(days=181))
        assert log.recent() == []
    finally:
        runtime.engine.dispose()
