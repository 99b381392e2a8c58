"""Local passwords: argon2id hashes, checks that take the same time whether or not the user exists,
and the password formats a seed ``users.json`` may carry.

Seed passwords: an argon2 hash (PHC string, or Django's ``argon2$…`` wrapping of one) is kept as
is; a plaintext value is hashed with argon2id; any other *hash* format (bcrypt, crypt, PBKDF2,
LDAP ``{SSHA}``, a bare hex digest) cannot be verified here, so it is refused: the user is imported
without a password and the import report says so (``authgate users set-password`` gives one).
Verifying bcrypt would need the ``bcrypt`` package; ``foreign_hash_kind`` is the place to hook it.
"""

from __future__ import annotations

import os
import re
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from authgate.errors import RateLimited

# argon2-cffi's defaults are RFC 9106's second recommended option with argon2id: t=3, 64 MiB, p=4.
_HASHER = PasswordHasher()
_ARGON2 = re.compile(
    r"^\$argon2(id|i|d)\$(v=\d+\$)?m=\d+,t=\d+,p=\d+\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+$")

# Hash formats people actually have in users.json files, by the shape of the string.
_FOREIGN: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"^\$2[abxy]?\$\d\d\$[./A-Za-z0-9]{53}$"), "bcrypt"),
    (re.compile(r"^\$(1|5|6|md5|sha1|y|7|gy|scrypt)\$"), "crypt(3)"),
    (re.compile(r"^\$pbkdf2[-\w]*\$"), "PBKDF2 (passlib)"),
    (re.compile(r"^(pbkdf2_sha256|pbkdf2_sha1|bcrypt_sha256|bcrypt|sha1|md5|scrypt|"
                r"unsalted_md5|unsalted_sha1)\$"), "Django"),
    (re.compile(r"^(pbkdf2:[\w:]+|scrypt:[\d:]+)\$"), "Werkzeug"),
    (re.compile(r"^\{[A-Z0-9-]+\}"), "LDAP"),
    (re.compile(r"^([0-9a-fA-F]{32}|[0-9a-fA-F]{40}|[0-9a-fA-F]{64}|[0-9a-fA-F]{128})$"),
     "unsalted hex digest"),
]


# What a new local password must be: long enough to resist guessing at the limiter's pace, short
# enough that argon2 is not asked to hash a novel.
MIN_LENGTH = 8
MAX_LENGTH = 1024

# What one check holds while it runs (argon2-cffi's memory_cost is in KiB).
HASH_MEMORY = _HASHER.memory_cost * 1024


def hash_slots_for_memory(meminfo: str = "/proc/meminfo") -> int:
    """How many password checks may run at once: those that fit in a quarter of the memory
    available now, at least 1, at most two per CPU (more would only wait for a CPU)."""
    most = 2 * (os.cpu_count() or 1)
    try:
        with open(meminfo) as fh:
            fields = dict(line.split(":", 1) for line in fh if ":" in line)
        available = int(fields["MemAvailable"].split()[0]) * 1024
    except (OSError, KeyError, ValueError):
        return min(4, most)
    return max(1, min(most, available // 4 // HASH_MEMORY))


class HashSlots:
    """A bound on the password checks running at once, so that a burst of sign-ins waits
    (up to ``wait`` seconds, then 429) instead of taking 64 MiB per request until memory runs out.
    """

    def __init__(self, size: int, *, wait: float = 10.0) -> None:
        self.size = size
        self._free = threading.BoundedSemaphore(size)
        self._wait = wait

    @contextmanager
    def slot(self) -> Iterator[None]:
        if not self._free.acquire(timeout=self._wait):
            raise RateLimited("The server is busy checking other sign-ins. Please try again "
                              "in a moment.", retry_after=5, error="busy")
        try:
            yield
        finally:
            self._free.release()


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return _HASHER.hash(secrets.token_urlsafe(16))


@dataclass(frozen=True)
class PasswordCheck:
    ok: bool
    # Set when the password was right but its hash uses weaker parameters than today's: the
    # caller stores this one instead.
    rehashed: str | None = None


def check_password(stored: str | None, password: str) -> PasswordCheck:
    """Compare ``password`` with ``stored``; with no stored hash, burn the same time and fail.

    The timing is what keeps "no such user" and "wrong password" apart from an observer.
    """
    if not stored:
        _verify(_dummy_hash(), password)
        return PasswordCheck(ok=False)
    if not _verify(stored, password):
        return PasswordCheck(ok=False)
    try:
        needs = _HASHER.check_needs_rehash(stored)
    except (InvalidHashError, ValueError):
        needs = False
    return PasswordCheck(ok=True, rehashed=hash_password(password) if needs else None)


def _verify(stored: str, password: str) -> bool:
    try:
        return _HASHER.verify(stored, password)
    except VerifyMismatchError:
        return False
    except (VerificationError, InvalidHashError, ValueError):
        # A corrupt stored hash is a failed check, never a crash on the sign-in page.
        return False


def is_argon2_hash(value: str) -> bool:
    return bool(_ARGON2.match(value))


def foreign_hash_kind(value: str) -> str | None:
    """The name of a non-argon2 hash format ``value`` looks like, or None for plaintext."""
    for pattern, kind in _FOREIGN:
        if pattern.match(value):
            return kind
    return None


@dataclass(frozen=True)
class SeedPassword:
    hash: str | None
    # What happened, for the import report: "kept", "hashed", or why nothing was stored.
    outcome: str


def seed_password(value: object) -> SeedPassword:
    """Turn a seed file's ``password`` value into what we store."""
    if value is None or value == "":
        return SeedPassword(None, "none")
    if not isinstance(value, str):
        return SeedPassword(None, "refused: not a string")
    if value.startswith("argon2$") and is_argon2_hash(value[len("argon2"):]):
        return SeedPassword(value[len("argon2"):], "kept")  # Django's wrapping of a PHC string
    if value.startswith("$argon2"):
        if is_argon2_hash(value):
            return SeedPassword(value, "kept")
        return SeedPassword(None, "refused: malformed argon2 hash")
    kind = foreign_hash_kind(value)
    if kind is not None:
        return SeedPassword(None, f"refused: {kind} hash cannot be verified")
    return SeedPassword(hash_password(value), "hashed")
