"""Real processes on loopback for tests: the devidp and the gateway, each in a subprocess.

Everything they log goes to files under the test's tmp dir, so tests can grep the logs for
every secret they saw.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import httpx

AUTHGATE = [sys.executable, "-m", "authgate.cli"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(url: str, *, timeout: float = 20.0, process: subprocess.Popen[bytes] | None = None,
              log: Path | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            text = log.read_text() if log and log.exists() else ""
            raise RuntimeError(f"process exited with {process.returncode}:\n{text[-3000:]}")
        try:
            if httpx.get(url, timeout=1.0).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise TimeoutError(f"{url} did not answer within {timeout}s")


# Every process a test started, so that a session can end them all even when a fixture failed
# half-way (see tests/conftest.py).
STARTED: list[Process] = []


class Process:
    def __init__(self, args: list[str], log: Path, health_url: str,
                 env: dict[str, str] | None = None) -> None:
        self.args, self.log, self.health_url = args, log, health_url
        self.env = {**os.environ, **(env or {})}
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Process:
        handle = self.log.open("ab")
        self.proc = subprocess.Popen(self.args, stdout=handle, stderr=subprocess.STDOUT,
                                     env=self.env, start_new_session=True)
        STARTED.append(self)
        handle.close()
        wait_http(self.health_url, process=self.proc, log=self.log)
        return self

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def kill(self) -> None:
        """SIGKILL: no cleanup, no graceful shutdown."""
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


class DevIdp(Process):
    def __init__(self, tmp: Path, *, gateway_url: str, access_lifetime: float = 1209600) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        super().__init__(
            [*AUTHGATE, "devidp", "--port", str(self.port), "--gateway-url", gateway_url,
             "--access-lifetime", str(access_lifetime)],
            tmp / "devidp.log", f"{self.url}/healthz")

    def control(self, path: str, body: dict[str, Any] | None = None) -> Any:
        url = f"{self.url}/_devidp/{path}"
        response = httpx.post(url, json=body or {}) if body is not None else httpx.get(url)
        response.raise_for_status()
        return response.json()

    def hh_stats(self) -> dict[str, int]:
        stats: dict[str, int] = self.control("hh/stats")
        return stats


def hh_provider_config(devidp_url: str, **extra: str) -> str:
    lines = [
        "[providers.hh]", 'kind = "hh"', 'display_name = "HeadHunter (dev)"',
        'client_id = "DEVHHCLIENT"', 'client_secret = "dev-hh-secret"',
        'user_agent = "AuthgateTests/1.0 (tests@example.com)"',
        f'authorize_url = "{devidp_url}/hh/oauth/authorize"',
        f'token_url = "{devidp_url}/hh/token"', f'api_base = "{devidp_url}/hh"',
    ]
    lines += [f"{k} = {v}" for k, v in extra.items()]
    return "\n".join(lines) + "\n"


class Gateway(Process):
    def __init__(self, tmp: Path, *, port: int | None = None, body: str = "",
                 http_timeout: str = "2s", top: str = "") -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.data_dir = tmp / "data"
        self.config = tmp / "authgate.toml"
        self.config.write_text(
            f'public_url = "{self.url}"\nlisten = "127.0.0.1:{self.port}"\n'
            f'data_dir = "{self.data_dir}"\n{top}'
            f'[vault]\nhttp_timeout = "{http_timeout}"\nrefresh_jitter = "1s"\n' + body)
        super().__init__([*AUTHGATE, "serve", "--config", str(self.config)],
                         tmp / "gateway.log", f"{self.url}/healthz")

    def cli(self, *args: str, check: bool = True,
            input_text: str | None = None) -> subprocess.CompletedProcess[str]:
        result = subprocess.run([*AUTHGATE, *args, "--config", str(self.config)],
                                capture_output=True, text=True, env=self.env, timeout=60,
                                input=input_text)
        with self.log.open("a") as fh:  # CLI output is log output too, for the secret greps
            fh.write(result.stderr)
        if check and result.returncode != 0:
            raise AssertionError(f"authgate {' '.join(args)} failed: {result.stderr}")
        return result

    def create_api_key(self) -> str:
        return self.cli("apikey", "create", "tests").stdout.strip().splitlines()[-1]


def approve_hh(client: httpx.Client, authorize_url: str, account: str) -> httpx.Response:
    """Play the user at the hh.ru look-alike: open the page, pick an account; return the
    redirect to the gateway's callback (not followed)."""
    page = client.get(authorize_url)
    assert page.status_code == 200, page.text
    request_id = re.search(r'name="request_id" value="([^"]+)"', page.text)
    assert request_id, page.text
    action = re.search(r'<form method="post" action="([^"]+)"', page.text)
    target = httpx.URL(authorize_url).join(action.group(1) if action else authorize_url)
    return client.post(target, data={"request_id": request_id.group(1), "account": account})


def open_connect_link(browser: httpx.Client, url: str) -> httpx.Response:
    """Open a bot's connect link and press the confirmation page's button, as its user would;
    returns the gateway's redirect to the provider."""
    page = browser.get(url)
    assert page.status_code == 200, page.text
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page.text))
    action = re.search(r'<form method="post" action="([^"]+)"', page.text)
    assert action and "session" in fields, page.text
    start = browser.post(httpx.URL(url).join(action.group(1)), data=fields)
    assert start.status_code == 303, start.text
    return start


def connect_hh(gateway_url: str, api_key: str, owner: str,
               account: str = "10000001") -> httpx.Response:
    """The whole connect flow, as a bot and its user would run it; returns the final page."""
    api = httpx.Client(base_url=gateway_url, headers={"Authorization": f"Bearer {api_key}"})
    link = api.post("/api/v1/connect-sessions", json={"provider": "hh", "owner": owner})
    assert link.status_code == 201, link.text
    with httpx.Client() as browser:
        start = open_connect_link(browser, link.json()["url"])
        back = approve_hh(browser, start.headers["location"], account)
        assert back.status_code in (302, 303), back.text
        return browser.get(back.headers["location"], follow_redirects=True)


def eventually(read: Callable[[], str], expected: str, *, timeout: float = 5.0) -> str:
    """``read()`` once it contains ``expected`` (servers write a request's log line after the
    client already has the response), or its last value when the time is up."""
    deadline = time.monotonic() + timeout
    text = read()
    while expected not in text and time.monotonic() < deadline:
        time.sleep(0.02)
        text = read()
    return text


def assert_no_secrets(texts: Iterable[str], secrets: Iterable[str]) -> None:
    blob = "\n".join(texts)
    leaked = [s for s in secrets if s and len(s) >= 8 and s in blob]
    assert not leaked, f"{len(leaked)} secret value(s) found in logs, e.g. {leaked[0][:6]}…"
