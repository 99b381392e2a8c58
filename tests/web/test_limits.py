"""What anonymous requests can make the gateway do (review findings): read bodies of any size,
read its metrics, or build redirects from their Host header."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import anyio
import httpx
import pytest

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
