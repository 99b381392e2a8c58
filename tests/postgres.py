"""A throwaway PostgreSQL server for tests (Debian's postgresql package, run as `postgres`)."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager

from tests.harness import free_port


def pg_bin() -> str | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return os.path.dirname(found[-1]) if found else None


@contextmanager
def postgres_server() -> Iterator[str]:
    """Yields a postgresql:// URL of a fresh database; removes everything afterwards."""
    bindir = pg_bin()
    assert bindir, "PostgreSQL is not installed"
    root = tempfile.mkdtemp(prefix="authgate-pg-")
    os.chmod(root, 0o755)
    data = os.path.join(root, "data")
    os.mkdir(data)
    shutil.chown(data, "postgres", "postgres")
    run_as = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    subprocess.run([*run_as, f"{bindir}/initdb", "-D", data, "-A", "trust", "-U", "authgate"],
                   check=True, capture_output=True)
    port = free_port()
    proc = subprocess.Popen(
        [*run_as, f"{bindir}/postgres", "-D", data, "-k", data, "-p", str(port),
         "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "max_connections=200"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(200):
            ready = subprocess.run([f"{bindir}/pg_isready", "-h", "127.0.0.1", "-p", str(port)],
                                   capture_output=True)
            if ready.returncode == 0:
                break
            time.sleep(0.05)
        subprocess.run([f"{bindir}/createdb", "-h", "127.0.0.1", "-p", str(port), "-U",
                        "authgate", "authgate"], check=True, capture_output=True)
        yield f"postgresql://authgate@127.0.0.1:{port}/authgate"
    finally:
        proc.terminate()
        proc.wait(10)
        shutil.rmtree(root, ignore_errors=True)
