"""SQLite is for one server process: ``authgate serve`` holds a lock beside the database file.

SQLite has one writer at a time for the whole file; two servers on it would fight over that lock
and over the refresh claims. Several replicas need PostgreSQL. The lock is an ``flock`` on
``<database>.serve-lock``: the kernel drops it when the process ends, however it ends (kill -9
included), so a crash never leaves a stale lock. One-shot commands (``refresh --due``, ``token``)
do not take it: they share the database with the server safely.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path
from typing import IO

from authgate.errors import ConfigError


def sqlite_file(url: str) -> Path | None:
    if not url.startswith("sqlite:///"):
        return None
    path = url.removeprefix("sqlite:///")
    return Path(path) if path and path != ":memory:" else None


def hold_server_lock(url: str) -> IO[str] | None:
    """Take the server lock of the SQLite database at ``url`` (None for PostgreSQL); keep the
    returned file open as long as the server runs. ``ConfigError`` when another server has it."""
    database = sqlite_file(url)
    if database is None:
        return None
    database.parent.mkdir(parents=True, exist_ok=True)
    path = database.with_name(database.name + ".serve-lock")
    handle = open(path, "a+", encoding="utf-8")  # noqa: SIM115 - held open for the process
    os.chmod(path, 0o600)
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "another process"
        handle.close()
        raise ConfigError(
            f"database_url: another authgate serve ({holder}) is running on the SQLite database "
            f"{database}, and SQLite is for one server process (use PostgreSQL for several "
            "replicas)", error="sqlite_in_use") from None
    with contextlib.suppress(OSError):
        handle.truncate(0)
        handle.write(f"pid {os.getpid()}\n")
        handle.flush()
    return handle
