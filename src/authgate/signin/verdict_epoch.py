"""A value that changes whenever a ``/auth/verify`` answer may change, written to a file that
nginx reads: the key of nginx's short verify cache includes it.

nginx (see ``deploy/nginx.py``) may keep a 200 of ``/auth/verify`` for the rest of the current
second, keyed on the session cookie's digest (session_digest.py) *and* this value. The gateway
writes a new random value after every change of its own verdicts: a session revoked here
(sign-out, ``users disable``, a role change — each ends sessions), a revocation by another
process once its reload sees it, a change of the signing keys, and its own start. The next
request after such a change is therefore asked of the gateway again, never answered from what
nginx kept. Random, not a counter: a restarted gateway must not meet the keys of an earlier run.

The file is not secret (nginx's user must be able to read it). If it cannot be written, it is
removed: without it nginx caches nothing. Until ``activate`` (the web app's start) nothing is
written, so CLI commands never touch it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import tempfile
import threading
from pathlib import Path

log = logging.getLogger("authgate.signin")


class VerdictEpoch:
    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._active = False
        self._lock = threading.Lock()
        self.value = ""

    def activate(self) -> None:
        self._active = True
        self.bump()

    def bump(self) -> None:
        """A new value, on disk before this returns (the caller's change is then in force)."""
        if not self._active or self.path is None:
            return
        with self._lock:
            self.value = secrets.token_hex(8)
            try:
                self._write(self.path, self.value)
            except OSError as exc:
                log.error("verify epoch %s not written (%s): nginx's verify cache is off",
                          self.path, exc.strerror)
                with contextlib.suppress(OSError):
                    self.path.unlink()

    @staticmethod
    def _write(path: Path, value: str) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        try:
            os.fchmod(fd, 0o644)  # nginx reads it; nothing secret in it
            with os.fdopen(fd, "w") as fh:
                fh.write(value)
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
