"""Run the devidp under uvicorn on a free loopback port, and talk to it over real HTTP."""

from __future__ import annotations

import base64
import hashlib
import secrets
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import uvicorn

from authgate.devidp import DevIdpOptions, create_devidp_app
from tests.harness import bound

GOOD_UA = "DevIdpTests/1.0 (tests@example.com)"
# Plain http only; one shared TLS context spares each httpx.Client ~50 ms of certificate loading.
TLS = ssl.create_default_context()


@dataclass
class FakeClock:
    """A wall clock that only moves when a test says so."""

    now: float = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class RunningDevIdp:
    base_url: str
    options: DevIdpOptions
    clock: FakeClock
    server: uvicorn.Server
    thread: threading.Thread
    clients: list[httpx.Client] = field(default_factory=list)

    def client(self) -> httpx.Client:
        """A shared client with a proper hh User-Agent that does not follow redirects."""
        if not self.clients:
            headers = {"User-Agent": GOOD_UA}
            self.clients.append(
                httpx.Client(base_url=self.base_url, headers=headers, timeout=bound(5), verify=TLS)
            )
        return self.clients[0]

    def control(self, path: str, body: dict[str, Any] | None = None) -> Any:
        c = self.client()
        resp = c.get(path) if body is None else c.post(path, json=body)
        resp.raise_for_status()
        return resp.json()

    def stop(self, wait: bool = True) -> None:
        for client in self.clients:
            client.close()
        self.server.should_exit = True
        if wait:
            self.thread.join(timeout=bound(10))


def start_devidp(options: DevIdpOptions, clock: FakeClock) -> RunningDevIdp:
    # Bind first so the port (and thus base_url, the OIDC issuer) is known before the app exists.
    # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY only on sockets whose proto says TCP;
    # without it every response stalls ~40 ms on Nagle + delayed ACK.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    options.base_url = f"http://127.0.0.1:{port}"
    options.clock = clock
    config = uvicorn.Config(
        create_devidp_app(options),
        log_level="warning",
        access_log=False,
        lifespan="off",
        timeout_graceful_shutdown=1,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + bound(10)
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("devidp did not start")
        time.sleep(0.01)
    return RunningDevIdp(options.base_url, options, clock, server, thread)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def make_devidp(clock: FakeClock) -> Iterator[Callable[..., RunningDevIdp]]:
    """``make_devidp(options=None)`` starts a devidp; all are stopped after the test."""
    running: list[RunningDevIdp] = []

    def make(options: DevIdpOptions | None = None) -> RunningDevIdp:
        idp = start_devidp(options or DevIdpOptions(), clock)
        running.append(idp)
        return idp

    yield make
    # uvicorn takes ~0.2 s to wind down; let it do so while the next test runs.
    for idp in running:
        idp.stop(wait=False)
        _stopping.append(idp.thread)


_stopping: list[threading.Thread] = []


@pytest.fixture(scope="session", autouse=True)
def _join_stopped_servers() -> Iterator[None]:
    yield
    for thread in _stopping:
        thread.join(timeout=bound(10))


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
