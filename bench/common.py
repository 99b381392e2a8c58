"""Shared pieces of the benchmarks: real processes on loopback, wrk, process memory."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from authgate.config import load_settings
from authgate.runtime import Runtime
from authgate.signin.audit import LOCAL
from tests.harness import POLL_INTERVAL_LINE, Gateway
from tests.stacks import Stack, make_stack


@dataclass
class WrkResult:
    requests_per_second: float
    p99_ms: float

    def __str__(self) -> str:
        return f"{self.requests_per_second:,.0f} req/s, p99 {self.p99_ms:.1f} ms"


def wrk(url: str, *, connections: int = 200, seconds: float = 10,
        headers: dict[str, str] | None = None) -> WrkResult:
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed: apt-get install wrk")
    args = ["wrk", "-t2", f"-c{connections}", f"-d{seconds:g}s", "--latency", "--timeout", "10s"]
    for name, value in (headers or {}).items():
        args += ["-H", f"{name}: {value}"]
    out = subprocess.run([*args, url], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    assert p99, out
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[p99.group(2)]
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if non2xx:
        raise SystemExit(f"{url}: {non2xx.group(1)} error responses during the run")
    return WrkResult(rps, float(p99.group(1)) * scale)


def rss_mib(pid: int) -> float:
    """Resident memory of a process and its children (uvicorn runs in the child)."""
    total = 0
    pids = [pid]
    children = Path(f"/proc/{pid}/task/{pid}/children")
    if children.exists():
        pids += [int(p) for p in children.read_text().split()]
    for p in pids:
        for line in Path(f"/proc/{p}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
    return total / 1024


def descendants(pid: int) -> list[int]:
    """``pid`` and every process below it (nginx and Apache workers, uvicorn's child)."""
    found, queue = [], [pid]
    while queue:
        p = queue.pop()
        found.append(p)
        for task in Path(f"/proc/{p}/task").glob("*"):
            children = task / "children"
            if children.exists():
                queue += [int(c) for c in children.read_text().split()]
    return found


def cpu_seconds(*pids: int) -> float:
    """User + system CPU used so far by the processes and everything below them."""
    total = 0
    for pid in {p for root in pids for p in descendants(root)}:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue  # ended meanwhile
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def real_clock(gateway: Gateway) -> Gateway:
    """The gateway on the system clock: the tests' shifted clock reads a file at every call."""
    gateway.env = {k: v for k, v in gateway.env.items() if not k.startswith("TESTONLY_")}
    return gateway


def as_shipped(gateway: Gateway) -> Gateway:
    """The gateway on the system clock and the default poll interval (1 s): the tests' 200 ms
    has the engine and the outbox look for work 15 times a second, CPU that a benchmark of
    requests would count against each of them."""
    config = gateway.config.read_text()
    assert POLL_INTERVAL_LINE in config, config
    gateway.config.write_text(config.replace(POLL_INTERVAL_LINE, "", 1))
    return real_clock(gateway)


def stack(access_lifetime: float = 1209600, extra: str = "") -> Stack:
    """A devidp and a gateway, each a process of its own (the benchmark stops them)."""
    return make_stack(Path(tempfile.mkdtemp(prefix="authgate-bench-")), ExitStack(),
                      access_lifetime=access_lifetime, extra=extra, devidp_process=True)


def session_token(config: Path) -> str:
    """A signed-in user's session token on the gateway configured by ``config``."""
    runtime = Runtime.open(load_settings(config, environ={}))
    try:
        user = runtime.signin.users.add("bench", role="user", now=runtime.clock.now())
        return runtime.signin.sessions.start(user, provider=LOCAL, ip=None,
                                             user_agent=None).token
    finally:
        runtime.engine.dispose()
