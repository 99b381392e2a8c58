"""Files that hold secrets: written atomically, 0600, durable; keys created once."""

from __future__ import annotations

import contextlib
import os
import secrets
import tempfile
from pathlib import Path


def private_umask() -> None:
    """Everything authgate creates (database, WAL files, keys) is readable by its user only:
    set by every command before it touches the data directory."""
    os.umask(0o077)


def write_private_file(path: Path, content: bytes) -> None:
    """Replace ``path`` with ``content``: temp file in the same directory, fsync, rename.

    Readers see the old file or the new one, never half of one; the file is 0600 from birth.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(content)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def read_or_create_key(path: Path, *, size: int = 32) -> bytes:
    """A random key kept in ``path`` (0600), created on first use and shared by every process
    on that data directory.

    Written to a temp file and hard-linked into place: two processes starting together both end
    up with whichever key was linked first, never with a half-written file.
    """
    with contextlib.suppress(FileNotFoundError):
        key = path.read_bytes()
        if len(key) >= size:
            return key
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, secrets.token_bytes(size))
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(tmp, path)
    except FileExistsError:
        pass
    finally:
        tmp.unlink()
    return path.read_bytes()
