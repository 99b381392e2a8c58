"""Real servers on loopback for tests: the gateway in a subprocess, the devidp next to it.

Rules every helper here keeps:

* **Nothing is left running.** A process is registered (``LIVE``) before anything can fail, runs
  in a process group of its own, and is ended with its whole group on every path: a failed start
  kills it at once, fixtures stop it, and the session's end kills and reports whatever is still
  registered (see tests/conftest.py).
* **Time is controlled, not waited for.** A gateway and its devidp share a ``ClockFile``: an offset
  in seconds both add to the system clock (``authgate.clock.OffsetClock``). A test that needs a
  token to expire moves the clock instead of sleeping.
* **Waits are for a real condition, with a bound that scales** with the machine's load
  (``bound``), never a fixed number of seconds.

Everything a gateway logs goes to a file under the test's tmp dir, so that tests can grep the
logs for every secret they saw; the output of the CLI commands run for it is appended there too.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import os
import queue
import random
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from authgate.clock import (
    TEST_CLOCK_CONSENT,
    TEST_CLOCK_CONSENT_ENV,
    TEST_CLOCK_FILE_ENV,
    OffsetClock,
)

AUTHGATE = [sys.executable, "-m", "authgate.cli"]


# -- bounds that scale with the machine -----------------------------------------------------------

def time_scale() -> float:
    """How many times longer than on an idle machine a wait may take: ``TEST_TIME_SCALE`` when set,
    else the load per core (at least 1). Asked at each wait, since the load changes."""
    forced = os.environ.get("TEST_TIME_SCALE")
    if forced:
        return max(1.0, float(forced))
    return max(1.0, os.getloadavg()[0] / (os.cpu_count() or 1))


def bound(seconds: float) -> float:
    """``seconds`` (what a wait needs on an idle machine, generously) scaled to the load now."""
    return seconds * time_scale()


def wait_until(condition: Callable[[], Any], what: str, *, idle_bound: float = 10.0,
               interval: float = 0.02) -> Any:
    """Poll ``condition`` until it returns something true (returned); fail naming ``what`` after
    ``bound(idle_bound)`` seconds."""
    limit = bound(idle_bound)
    deadline = time.monotonic() + limit
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {limit:.0f}s")
        time.sleep(interval)


# Ports handed out by free_port: below the kernel's ephemeral range (32768-60999 by default), so
# that no bind(0) and no outgoing connection takes one between the test choosing it and its
# server binding it, and each reserved machine-wide by a marker file that names this process.
_PORTS = range(10000, 32000)
_PORT_MARKERS = Path(tempfile.gettempdir()) / "authgate-test-ports"
_reserved: set[int] = set()


def free_port() -> int:
    """A loopback port that nothing listens on and that no other test process gets from here
    while this one lives. Tests stop a server and start another on its port (a gateway
    restarted, a receiver back after an outage): with ports from bind(0), another worker's
    test could take the port in between, and a readiness check would then see that test's
    server answer."""
    _PORT_MARKERS.mkdir(exist_ok=True)
    for _ in range(10 * len(_PORTS)):
        port = random.choice(_PORTS)
        if port in _reserved or not _reserve(port):
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue  # in use by something else: stays reserved, never handed out
        return port
    raise RuntimeError("no free loopback port left")


def _reserve(port: int) -> bool:
    path = _PORT_MARKERS / str(port)
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        if not _reclaimed(path):
            return False
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            return False
    with os.fdopen(fd, "w") as marker:
        marker.write(str(os.getpid()))
    if not _reserved:
        atexit.register(_release_ports, os.getpid())
    _reserved.add(port)
    return True


def _owner_is_gone(path: Path) -> bool:
    try:
        owner = int(path.read_text() or "0")
    except (OSError, ValueError):
        return False  # gone already, or being written
    if owner <= 0:
        return False
    try:
        os.kill(owner, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def _reclaimed(path: Path) -> bool:
    """Remove the marker of a process that died without releasing its ports (SIGKILL). Under a
    lock shared by every process that reclaims, and read again under it: a marker made since
    by a live process is never removed."""
    import fcntl

    if not _owner_is_gone(path):
        return False
    with open(_PORT_MARKERS / ".lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not _owner_is_gone(path):
            return False
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
    return True


def _release_ports(owner: int) -> None:
    if os.getpid() != owner:  # a forked child exiting normally: the ports are its parent's
        return
    for port in _reserved:
        with contextlib.suppress(OSError):
            os.unlink(_PORT_MARKERS / str(port))


# One client for readiness polls: a new httpx client per poll costs a TLS context each time.
_POLL = httpx.Client(timeout=httpx.Timeout(5.0, connect=2.0), trust_env=False)


def wait_http(url: str, *, idle_bound: float = 20.0,
              process: subprocess.Popen[Any] | None = None, log: Path | None = None,
              any_answer: bool = False) -> None:
    """Until ``url`` answers below 500 (or at all, with ``any_answer``); raises at once if
    ``process`` exits meanwhile."""
    limit = bound(idle_bound)
    deadline = time.monotonic() + limit
    while True:
        if process is not None and process.poll() is not None:
            text = log.read_text(errors="replace") if log and log.exists() else ""
            raise RuntimeError(f"process exited with {process.returncode}:\n{text[-3000:]}")
        try:
            if _POLL.get(url).status_code < 500 or any_answer:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"{url} did not answer within {limit:.0f}s")
        time.sleep(0.05)


# -- tools the tests need -------------------------------------------------------------------------

def in_ci() -> bool:
    """On CI ``scripts/setup --test`` has installed every tool: a missing one is a failure."""
    return bool(os.environ.get("CI"))


def require_tool(available: bool, what: str) -> None:
    """Skip the test when ``what`` is missing on a developer's machine; fail it on CI."""
    if available:
        return
    message = f"{what} is not installed (scripts/setup --test installs it)"
    if in_ci():
        pytest.fail(f"{message}; CI is set, so this is a failure, not a skip", pytrace=False)
    pytest.skip(message)


def skip_unless_installed(available: bool, what: str) -> pytest.MarkDecorator:
    """A mark: skip when ``what`` is missing, except on CI (where the test runs, and fails)."""
    return pytest.mark.skipif(not available and not in_ci(),
                              reason=f"{what} is not installed (scripts/setup --test installs it)")


# -- processes ------------------------------------------------------------------------------------

# Every child process started and not yet ended, so that the session's end can end (and report)
# the ones a fixture failed to stop.
LIVE: set[Child] = set()
_LIVE_LOCK = threading.Lock()


class Child:
    """A process a test started: in a process group of its own, registered from the moment it
    exists, ended (with its whole group) by ``end`` on every path; a context manager too."""

    name = "process"
    stop_signal = signal.SIGTERM
    proc: Any = None  # a subprocess.Popen, or a Forked

    def spawn(self, args: list[str], **popen: Any) -> subprocess.Popen[Any]:
        proc: subprocess.Popen[Any] = subprocess.Popen(args, start_new_session=True, **popen)
        self._register(proc)
        return proc

    def fork_authgate(self, args: list[str], *, env: dict[str, str], log: Path, cwd: Path,
                      stdout: Path | None = None) -> Any:
        """``authgate ARGS`` in a new process forked from the preloaded fork server."""
        proc = Forked(args, env, log, cwd, stdout)
        self._register(proc)
        return proc

    def _register(self, proc: Any) -> None:
        self.proc = proc
        with _LIVE_LOCK:
            LIVE.add(self)

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def end(self, sig: int | None = None, *, grace: float = 10.0) -> None:
        """Send ``sig`` (default: the graceful one) to the group, wait (scaled ``grace``), then
        SIGKILL whatever of the group is left. Safe to call more than once."""
        proc = self.proc
        if proc is None:
            return
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, self.stop_signal if sig is None else sig)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(bound(grace))
        # The leader's children may outlive it (nginx workers, a forked helper): the group goes.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        with _LIVE_LOCK:
            LIVE.discard(self)

    def stop(self) -> None:
        self.end()

    def kill(self) -> None:
        """SIGKILL: no cleanup, no graceful shutdown."""
        self.end(signal.SIGKILL)

    def __enter__(self) -> Child:
        return self

    def __exit__(self, *exc: object) -> None:
        self.end()

    def describe(self) -> str:
        args = self.proc.args if self.proc else "?"
        return f"{self.name} (pid {self.pid}): {args}"


# -- authgate processes forked from a preloaded interpreter ---------------------------------------

# ``python -m authgate.cli serve`` spends ~1.5 s of CPU importing before it serves (several
# seconds of wall time on a crowded machine), and the tests start dozens of gateways. So they
# are started through multiprocessing's fork server, which has imported authgate once: each
# gateway is still a process of its own, in its own session and process group, running the CLI's
# ``main()`` with its own arguments, environment, working directory and log file.
_PRELOAD = ["authgate.cli.main", "authgate.web.app", "authgate.signin.services", "uvicorn",
            "tests.launch"]
_fork_context: Any = None


def _forking() -> Any:
    global _fork_context
    if _fork_context is None:
        import multiprocessing

        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(_PRELOAD)
        _fork_context = context
    return _fork_context


def stop_fork_server() -> None:
    """End the fork server and multiprocessing's resource tracker (helpers, not test servers)."""
    if _fork_context is None:
        return
    from multiprocessing import forkserver, resource_tracker

    for helper in (forkserver._forkserver, resource_tracker._resource_tracker):
        with contextlib.suppress(Exception):
            helper._stop()


class Forked:
    """The part of ``subprocess.Popen`` that ``Child`` uses, for a forked ``authgate`` run."""

    def __init__(self, args: list[str], env: dict[str, str], log: Path, cwd: Path,
                 stdout: Path | None = None) -> None:
        from tests.launch import run_authgate

        self.args = ["authgate", *args]
        # daemon: should this process (a test worker) exit with it still running, multiprocessing
        # terminates it rather than waiting for it.
        self._process = _forking().Process(
            target=run_authgate, args=(args, env, str(log), str(cwd),
                                       str(stdout) if stdout else None), daemon=True)
        self._process.start()
        self.pid: int = self._process.pid

    @property
    def returncode(self) -> int | None:
        code: int | None = self._process.exitcode
        return code

    def poll(self) -> int | None:
        return self.returncode

    def send_signal(self, sig: int) -> None:
        if self.returncode is None:
            os.kill(self.pid, sig)

    def wait(self, timeout: float | None = None) -> int:
        self._process.join(timeout)
        if self.returncode is None:
            raise subprocess.TimeoutExpired(self.args, timeout or 0)
        return self.returncode


def end_all_live() -> list[str]:
    """End every registered process; returns what was still running (for the leak report)."""
    with _LIVE_LOCK:
        left = list(LIVE)
    running = [c.describe() for c in left if c.running()]
    for child in left:
        child.end(signal.SIGKILL)
    return running


class Process(Child):
    """A server process that is ready when ``health_url`` answers. An ``authgate`` command
    (``args`` starting with ``AUTHGATE``) is forked from the preloaded fork server in a test
    session, unless ``exec_python`` asks for a whole new Python (the default elsewhere: the
    benchmarks measure processes started the ordinary way)."""

    def __init__(self, args: list[str], log: Path, health_url: str,
                 env: dict[str, str] | None = None, *, exec_python: bool | None = None) -> None:
        self.args, self.log, self.health_url = args, log, health_url
        self.env = {**os.environ, **(env or {})}
        # pytest sets PYTEST_VERSION for the whole session (workers included).
        self.exec_python = (not os.environ.get("PYTEST_VERSION") if exec_python is None
                            else exec_python)

    def start(self) -> Process:
        authgate = self.args[:len(AUTHGATE)] == AUTHGATE
        if authgate and not self.exec_python:
            proc = self.fork_authgate(self.args[len(AUTHGATE):], env=self.env, log=self.log,
                                      cwd=self.log.parent)
        else:
            with self.log.open("ab") as handle:
                proc = self.spawn(self.args, stdout=handle, stderr=subprocess.STDOUT,
                                  env=self.env)
        try:
            wait_http(self.health_url, process=proc, log=self.log)
        except BaseException:
            self.kill()
            raise
        return self

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


class CliProcess(Child):
    """A long-running ``authgate`` command (``connect`` waits for its link to be used): its
    stdout read line by line in a thread, every wait bounded."""

    name = "authgate command"

    def __init__(self, args: list[str], *, env: dict[str, str] | None = None) -> None:
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.output: list[str] = []
        proc = self.spawn(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          env=env)
        threading.Thread(target=self._read, args=(proc,), daemon=True).start()

    def _read(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def read_line_containing(self, text: str, *, idle_bound: float = 20.0) -> str:
        deadline = time.monotonic() + bound(idle_bound)
        while True:
            try:
                line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"no line with {text!r} in time: {self.output}") from None
            if line is None:
                raise AssertionError(f"the command ended without a line with {text!r}: "
                                     f"{self.output}")
            self.output.append(line)
            if text in line:
                return line

    def finish(self, *, idle_bound: float = 30.0) -> str:
        """Wait for the command to end on its own; returns all it printed."""
        assert self.proc is not None
        self.proc.wait(bound(idle_bound))
        while (line := self.lines.get(timeout=bound(5))) is not None:
            self.output.append(line)
        return "".join(self.output)

    @property
    def returncode(self) -> int | None:
        return self.proc.returncode if self.proc else None


# -- the controlled clock -------------------------------------------------------------------------

class ClockFile:
    """The time of the processes a test started: an offset in seconds that the gateway and the
    devidp add to the system clock (``authgate.clock.OffsetClock``; honoured only with the
    test-only consent variable, see ``env``). ``advance`` moves it for all of them at once."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0.0
        self.frozen_at: float | None = None
        self._write()

    def advance(self, seconds: float) -> None:
        if self.frozen_at is not None:
            self.frozen_at += seconds
        else:
            self.offset += seconds
        self._write()

    def freeze(self) -> None:
        """Stop time where it is now (``advance`` still moves it), so that a test's own pace
        cannot add seconds between two of its steps."""
        self.frozen_at = time.time() + self.offset
        self._write()

    def _write(self) -> None:
        # Written aside and renamed over: a reader never sees half a number.
        text = repr(self.offset) if self.frozen_at is None else f"@{self.frozen_at!r}"
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(text)
        os.replace(tmp, self.path)

    @property
    def env(self) -> dict[str, str]:
        return {TEST_CLOCK_FILE_ENV: str(self.path), TEST_CLOCK_CONSENT_ENV: TEST_CLOCK_CONSENT}

    def clock(self) -> OffsetClock:
        """The same time, for code the test runs in its own process."""
        return OffsetClock(self.path)


# -- the devidp -----------------------------------------------------------------------------------

class ThreadServer:
    """uvicorn serving ``app`` in a daemon thread of the test process, on a socket bound before
    the app exists (so its URL is known to the app)."""

    def __init__(self, sock: socket.socket, app: Any) -> None:
        import uvicorn

        self.sock = sock
        self.server = uvicorn.Server(uvicorn.Config(
            app, log_level="warning", access_log=False, lifespan="off",
            timeout_graceful_shutdown=1))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [sock]},
                                       daemon=True)

    def start(self) -> None:
        self.thread.start()
        wait_until(lambda: self.server.started or not self.thread.is_alive(), "uvicorn start")
        if not self.thread.is_alive():
            raise RuntimeError("uvicorn stopped while starting")

    def stop(self, wait: bool = True) -> None:
        self.server.should_exit = True
        if wait:
            self.thread.join(bound(10))
        self.sock.close()


def bound_socket() -> socket.socket:
    # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY only on sockets whose proto says TCP;
    # without it every response stalls ~40 ms on Nagle + delayed ACK.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


class DevIdp:
    """The development identity provider for a gateway at ``gateway_url``, served from a thread of
    the test process (the devidp is the tests' tool, not what they test; ``authgate devidp`` as a
    process has its own tests). Its time is ``clock``'s when given."""

    def __init__(self, tmp: Path, *, gateway_url: str, access_lifetime: float = 1209600,
                 clock: ClockFile | None = None) -> None:
        from authgate.devidp.cli import devidp_options

        self.sock = bound_socket()
        self.port = int(self.sock.getsockname()[1])
        self.url = f"http://127.0.0.1:{self.port}"
        self.options = devidp_options(
            base_url=self.url, gateway_url=gateway_url, access_lifetime=access_lifetime,
            state_file=None, clock=clock.clock().timestamp if clock else None)
        self.server: ThreadServer | None = None
        self._client = httpx.Client(base_url=self.url, timeout=bound(30), trust_env=False)

    def start(self) -> DevIdp:
        from authgate.devidp import create_devidp_app

        self.server = ThreadServer(self.sock, create_devidp_app(self.options))
        self.server.start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            with contextlib.suppress(httpx.HTTPError):  # let held answers go
                self._client.post("/_devidp/hh/faults", json={"mode": None})
            self.server.stop()
            self.server = None
        else:
            self.sock.close()  # bound, never served
        self._client.close()

    def control(self, path: str, body: dict[str, Any] | None = None) -> Any:
        url = f"/_devidp/{path}"
        response = self._client.post(url, json=body) if body is not None else self._client.get(url)
        response.raise_for_status()
        return response.json()

    def hh_stats(self) -> dict[str, int]:
        stats: dict[str, int] = self.control("hh/stats")
        return stats


class DevIdpProcess(Process):
    """``authgate devidp`` as a process of its own (for the tests of that command)."""

    name = "authgate devidp"

    def __init__(self, tmp: Path, *, gateway_url: str, access_lifetime: float = 1209600,
                 clock: ClockFile | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        super().__init__(
            [*AUTHGATE, "devidp", "--port", str(self.port), "--gateway-url", gateway_url,
             "--access-lifetime", str(int(access_lifetime))],
            tmp / "devidp.log", f"{self.url}/healthz", env=clock.env if clock else None,
            exec_python=True)

    def control(self, path: str, body: dict[str, Any] | None = None) -> Any:
        url = f"{self.url}/_devidp/{path}"
        response = _POLL.post(url, json=body) if body is not None else _POLL.get(url)
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


# -- the gateway ----------------------------------------------------------------------------------

# A test moves the clock and waits for the engine (and the outbox) to notice: short.
POLL_INTERVAL_LINE = 'poll_interval = "200ms"\n'


class Gateway(Process):
    """``authgate serve`` in a process of its own, on loopback, its time set by ``clock``."""

    name = "authgate serve"

    def __init__(self, tmp: Path, *, port: int | None = None, body: str = "",
                 http_timeout: str | None = None, top: str = "", clock: ClockFile | None = None,
                 exec_python: bool | None = None) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.data_dir = tmp / "data"
        self.config = tmp / "authgate.toml"
        self.clock = clock or ClockFile(tmp / "clock")
        # Short, so that a provider that hangs costs a test little; longer on a very crowded
        # machine (load above 3 per core), so that its slow answers are not taken for hangs.
        http_timeout = http_timeout or f"{max(2, round(bound(1.5)))}s"
        self.config.write_text(
            f'public_url = "{self.url}"\nlisten = "127.0.0.1:{self.port}"\n'
            f'data_dir = "{self.data_dir}"\n{top}'
            f'[vault]\nhttp_timeout = "{http_timeout}"\nrefresh_jitter = "1s"\n'
            + POLL_INTERVAL_LINE + body)
        super().__init__([*AUTHGATE, "serve", "--config", str(self.config)],
                         tmp / "gateway.log", f"{self.url}/healthz", env=self.clock.env,
                         exec_python=exec_python)

    def cli(self, *args: str, check: bool = True,
            input_text: str | None = None) -> subprocess.CompletedProcess[str]:
        """An ``authgate`` command against this gateway's config, run in this process (a new
        Python process costs seconds when the machine is busy); the CLI's own tests run it as a
        process with ``cli_process``."""
        result = run_cli([*args, "--config", str(self.config)], env=self.env,
                         input_text=input_text)
        with self.log.open("a") as fh:  # CLI output is log output too, for the secret greps
            fh.write(result.stderr)
        if check and result.returncode != 0:
            raise AssertionError(f"authgate {' '.join(args)} failed: {result.stderr}")
        return result

    def cli_process(self, *args: str, check: bool = True,
                    input_text: str | None = None) -> subprocess.CompletedProcess[str]:
        """The same as a real ``authgate`` process, what a shell script runs."""
        result = subprocess.run([*AUTHGATE, *args, "--config", str(self.config)],
                                capture_output=True, text=True, env=self.env,
                                timeout=bound(60), input=input_text)
        with self.log.open("a") as fh:
            fh.write(result.stderr)
        if check and result.returncode != 0:
            raise AssertionError(f"authgate {' '.join(args)} failed: {result.stderr}")
        return result

    def create_api_key(self) -> str:
        return self.cli("apikey", "create", "tests").stdout.strip().splitlines()[-1]


_CLI_LOCK = threading.Lock()


@contextlib.contextmanager
def _logging_kept() -> Iterator[None]:
    """Put back the logging setup a command changes: every logger's handlers, level, propagation
    and state (``configure_logging`` binds a handler to the runner's stderr, which is closed
    after the command; ``demo`` quiets the access logs, which later tests of this process read
    through caplog). A logger the command created goes back to the defaults."""
    import logging

    def every_logger() -> dict[str, logging.Logger]:
        # list() first: a server thread of this process may add a logger meanwhile.
        found = {name: logger for name, logger in list(logging.root.manager.loggerDict.items())
                 if isinstance(logger, logging.Logger)}
        return {"": logging.getLogger(), **found}

    saved = {name: (logger, logger.handlers[:], logger.level, logger.propagate, logger.disabled)
             for name, logger in every_logger().items()}
    try:
        yield
    finally:
        for name, logger in every_logger().items():
            _, handlers, level, propagate, disabled = saved.get(
                name, (logger, [], logging.NOTSET, True, False))
            logger.handlers[:] = handlers
            logger.setLevel(level)
            logger.propagate, logger.disabled = propagate, disabled


@functools.cache
def _click_command_of(app: Any) -> Any:
    """The click command tree Typer builds from ``app``, built once per test process instead of
    for every command run (~15 ms of CPU each, and the tests run hundreds): the CLI declares all
    its commands at import and never changes them."""
    from typer.main import get_command

    return get_command(app)


def run_cli(args: list[str], *, env: dict[str, str] | None = None,
            input_text: str | None = None) -> subprocess.CompletedProcess[str]:
    """``authgate ARGS`` through Typer's test runner in this process: the same command code, its
    output and exit code, without starting Python again.

    It runs in a thread of its own (the commands call ``asyncio.run``, which must not meet an
    event loop of the caller's); the process umask the commands set is put back, and every
    runtime they opened is closed.
    """
    import typer.testing
    from typer.testing import CliRunner

    from authgate.cli.main import app
    from authgate.runtime import Runtime

    typer.testing._get_command = _click_command_of  # type: ignore[attr-defined]

    opened: list[Runtime] = []
    original_open = Runtime.open.__func__  # type: ignore[attr-defined]

    def recording_open(cls: type[Runtime], *a: Any, **kw: Any) -> Runtime:
        runtime: Runtime = original_open(cls, *a, **kw)
        opened.append(runtime)
        return runtime

    def invoke() -> Any:
        # The runner sets these variables in os.environ for the call (and puts them back).
        extra = {k: v for k, v in (env or {}).items() if os.environ.get(k) != v}
        return CliRunner().invoke(app, args, input=input_text, env=extra,
                                  catch_exceptions=True)

    with _CLI_LOCK, _logging_kept():
        umask = os.umask(0o077)
        os.umask(umask)
        Runtime.open = classmethod(recording_open)  # type: ignore[method-assign, assignment]
        try:
            with ThreadPoolExecutor(1) as pool:
                result = pool.submit(invoke).result()
        finally:
            Runtime.open = classmethod(original_open)  # type: ignore[method-assign]
            os.umask(umask)
            for runtime in opened:
                runtime.engine.dispose()
    stderr = result.stderr
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        import traceback

        stderr += "".join(traceback.format_exception(result.exception))
    return subprocess.CompletedProcess(["authgate", *args], result.exit_code, result.stdout,
                                       stderr)


# -- flows ----------------------------------------------------------------------------------------

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
    with httpx.Client(base_url=gateway_url, timeout=bound(30),
                      headers={"Authorization": f"Bearer {api_key}"}) as api:
        link = api.post("/api/v1/connect-sessions", json={"provider": "hh", "owner": owner})
    assert link.status_code == 201, link.text
    with httpx.Client(timeout=bound(30)) as browser:
        start = open_connect_link(browser, link.json()["url"])
        back = approve_hh(browser, start.headers["location"], account)
        assert back.status_code in (302, 303), back.text
        return browser.get(back.headers["location"], follow_redirects=True)


def eventually(read: Callable[[], str], expected: str, *, idle_bound: float = 5.0) -> str:
    """``read()`` once it contains ``expected`` (servers write a request's log line after the
    client already has the response), or its last value when the (scaled) time is up."""
    deadline = time.monotonic() + bound(idle_bound)
    text = read()
    while expected not in text and time.monotonic() < deadline:
        time.sleep(0.02)
        text = read()
    return text


def assert_no_secrets(texts: Iterable[str], secrets: Iterable[str]) -> None:
    blob = "\n".join(texts)
    leaked = [s for s in secrets if s and len(s) >= 8 and s in blob]
    assert not leaked, f"{len(leaked)} secret value(s) found in logs, e.g. {leaked[0][:6]}…"


# A JWT of any kind: a base64url JSON header ('{"' is "eyJ"), a payload and a signature. A bare
# "eyJ" also turns up in random base64 (a key id, a ciphertext) about once in 260 000 places.
_JWT_SHAPED = re.compile(r"eyJ[A-Za-z0-9_-]{6,}\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")


def assert_no_jwt(text: str) -> None:
    found = _JWT_SHAPED.search(text)
    assert found is None, f"a JWT in the log: {found.group(0)[:12]}…" if found else ""


def stop_together(*parts: Any) -> None:
    """``part.stop()`` for each at the same time: a server's graceful shutdown is mostly waiting
    (uvicorn notices the signal at its next 0.1 s tick, then gives connections 0.1 s), and a
    test stack's gateway and devidp need not wait for each other's."""
    with ThreadPoolExecutor(len(parts)) as pool:
        for stopping in [pool.submit(part.stop) for part in parts]:
            stopping.result()


@contextlib.contextmanager
def started(*children: Child) -> Iterator[None]:
    """End ``children`` when the block ends, however it ends."""
    try:
        yield
    finally:
        for child in reversed(children):
            child.end()
