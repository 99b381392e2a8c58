"""A throwaway PostgreSQL server for tests (Debian's postgresql package, run as `postgres`)."""

from __future__ import annotations

import atexit
import glob
import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from tests.harness import Child, bound, free_port, wait_until


def pg_bin() -> str | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return os.path.dirname(found[-1]) if found else None


class Postgres(Child):
    name = "postgres"
    stop_signal = signal.SIGINT  # "fast" shutdown: does not wait for clients to go


class PostgresInstance:
    """A running throwaway server that a test may stop and start again (same data, same port)."""

    def __init__(self, bindir: str, data: str, port: int, as_user: dict[str, Any]) -> None:
        self.bindir, self.data, self.port, self.as_user = bindir, data, port, as_user
        self.url = f"postgresql://authgate@127.0.0.1:{port}/authgate"
        self.server = Postgres()

    def start(self) -> None:
        self.server = Postgres()
        self.server.spawn([f"{self.bindir}/postgres", "-D", self.data, "-k", self.data, "-p",
                           str(self.port), "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off",
                           "-c", "max_connections=200"],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **self.as_user)

        def ready() -> bool:
            assert self.server.running(), "postgres exited while starting"
            return subprocess.run([f"{self.bindir}/pg_isready", "-h", "127.0.0.1", "-p",
                                   str(self.port)], capture_output=True).returncode == 0

        wait_until(ready, "postgres accepting connections", idle_bound=20, interval=0.05)

    def stop(self) -> None:
        self.server.end()


def _as_user(root: str) -> dict[str, Any]:
    """PostgreSQL refuses to run as root: as root, run it as `postgres` (directly, no runuser in
    between, so that the process we end is the server itself)."""
    if os.geteuid() != 0:
        return {}
    return {"user": "postgres", "group": "postgres", "extra_groups": [], "cwd": root}


_template: str | None = None


def _initialized_cluster(bindir: str) -> str:
    """A pristine data directory (``initdb``'s output), made once per process: each server
    starts from a copy of it, which costs a fraction of initdb's second of CPU."""
    global _template
    if _template is None:
        root = tempfile.mkdtemp(prefix="authgate-pg-template-")
        os.chmod(root, 0o755)
        data = os.path.join(root, "data")
        os.mkdir(data)
        if os.geteuid() == 0:
            shutil.chown(data, "postgres", "postgres")
        subprocess.run([f"{bindir}/initdb", "-D", data, "-A", "trust", "-U", "authgate"],
                       check=True, capture_output=True, timeout=bound(60), **_as_user(root))
        atexit.register(shutil.rmtree, root, ignore_errors=True)
        _template = data
    return _template


@contextmanager
def postgres_instance() -> Iterator[PostgresInstance]:
    """A fresh server with an ``authgate`` database; removes everything afterwards."""
    bindir = pg_bin()
    assert bindir, "PostgreSQL is not installed"
    template = _initialized_cluster(bindir)
    root = tempfile.mkdtemp(prefix="authgate-pg-")
    os.chmod(root, 0o755)
    data = os.path.join(root, "data")
    as_user = _as_user(root)
    instance = PostgresInstance(bindir, data, free_port(), as_user)
    try:
        # cp -a keeps the owner (postgres) and the modes (0700) PostgreSQL insists on.
        subprocess.run(["cp", "-a", template, data], check=True, capture_output=True,
                       timeout=bound(60))
        instance.start()
        subprocess.run([f"{bindir}/createdb", "-h", "127.0.0.1", "-p", str(instance.port),
                        "-U", "authgate", "authgate"], check=True, capture_output=True,
                       timeout=bound(30))
        yield instance
    finally:
        instance.stop()
        shutil.rmtree(root, ignore_errors=True)


@contextmanager
def postgres_server() -> Iterator[str]:
    """Yields a postgresql:// URL of a fresh database; removes everything afterwards."""
    with postgres_instance() as instance:
        yield instance.url
