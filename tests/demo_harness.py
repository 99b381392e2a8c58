"""``authgate demo`` as a subprocess for tests: start it on free ports, read what it prints,
stop it with Ctrl+C (SIGINT) as a person would."""

from __future__ import annotations

import os
import random
import re
import signal
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.harness import Child, ClockFile, bound

READY_LINE = "Press Ctrl+C to stop."


def free_base_port() -> int:
    """A port P with P, P+1 and P+2 free (the demo's three servers); random, so parallel test
    workers rarely even try the same one. Below the kernel's ephemeral range: a port found free
    there can be given to any process's outgoing connection before the demo binds it (seen: a
    demo refused to start with "port 41996 is not free")."""
    for _ in range(200):
        base = random.randrange(10000, _ephemeral_ports_start() - 3)
        held: list[socket.socket] = []
        try:
            for port in (base, base + 1, base + 2):
                s = socket.socket()
                held.append(s)
                s.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
        finally:
            for s in held:
                s.close()
    raise RuntimeError("no three consecutive free ports found")


def _ephemeral_ports_start() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768  # Linux's default


@dataclass(eq=False)
class DemoProcess(Child):
    """``authgate demo`` on three free ports; its time is ``clock``'s (a file in ``directory``'s
    parent unless given), so a test moves it instead of waiting."""

    directory: Path
    base_port: int
    log: Path
    extra_args: list[str] = field(default_factory=list)
    clock: ClockFile | None = None
    output: list[str] = field(default_factory=list)
    _ready: threading.Event = field(default_factory=threading.Event)
    _follower: threading.Thread | None = None

    name = "authgate demo"
    stop_signal = signal.SIGINT  # Ctrl+C, as a person stops it

    def __post_init__(self) -> None:
        if self.clock is None:
            self.clock = ClockFile(self.log.with_suffix(".clock"))

    @property
    def gateway(self) -> str:
        return f"http://127.0.0.1:{self.base_port}"

    @property
    def devidp(self) -> str:
        return f"http://127.0.0.1:{self.base_port + 1}"

    @property
    def panel(self) -> str:
        return f"http://127.0.0.1:{self.base_port + 2}"

    @property
    def text(self) -> str:
        return "".join(self.output)

    def start(self, idle_bound: float = 20.0) -> DemoProcess:
        """Start it and wait (a bound scaled to the load) until it prints its URLs; a demo that
        does not is killed before the error is raised."""
        assert self.clock is not None
        # Forked from the preloaded fork server (see tests.harness.Forked): stderr (the log) to
        # one file, stdout (the banner) to another, followed by a thread.
        banner = self.log.with_suffix(".out")
        banner.write_text("")
        proc = self.fork_authgate(
            ["demo", "--dir", str(self.directory), "--port", str(self.base_port),
             *self.extra_args],
            env={**os.environ, **self.clock.env, "COLUMNS": "200"}, log=self.log,
            cwd=self.log.parent, stdout=banner)
        try:
            self._follower = threading.Thread(target=self._follow, args=(proc, banner),
                                              daemon=True)
            self._follower.start()
            limit = bound(idle_bound)
            deadline = time.monotonic() + limit
            while not self._ready.wait(0.05):
                if proc.poll() is not None:
                    raise RuntimeError(f"demo exited with {proc.returncode}:\n{self.text}\n"
                                       f"{self.log_text()[-3000:]}")
                if time.monotonic() > deadline:
                    raise TimeoutError(f"demo did not print its URLs in {limit:.0f}s:\n"
                                       f"{self.text}")
        except BaseException:
            self.kill()
            raise
        return self

    def _follow(self, proc: Any, banner: Path) -> None:
        with banner.open(errors="replace") as lines:
            partial = ""
            while True:
                ended = proc.poll() is not None
                chunk = lines.readline()
                if not chunk:
                    if ended:
                        return
                    # Quick until the banner is out (a test waits for it), then at ease: a
                    # demo runs for a whole browser session, and reads the file 50 times a
                    # second otherwise.
                    time.sleep(0.2 if self._ready.is_set() else 0.02)
                    continue
                partial += chunk
                if not partial.endswith("\n"):
                    continue
                self.output.append(partial)
                if partial.strip() == READY_LINE:
                    self._ready.set()
                partial = ""

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def admin_password(self) -> str | None:
        match = re.search(r"Admin account\s+admin / (\S+)", self.text)
        return match.group(1) if match else None

    def interrupt(self, idle_bound: float = 10.0) -> int:
        """Ctrl+C; returns the exit code (raises if it does not stop in the scaled time)."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGINT)
        code: int = self.proc.wait(bound(idle_bound))
        self.end()  # deregistered (and anything left of its group gone)
        if self._follower is not None:
            self._follower.join(bound(5))  # everything it printed is in ``text`` now
        return code
