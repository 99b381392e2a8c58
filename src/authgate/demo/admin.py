"""The demo's administrator account: created on the first run with a one-time password that is
printed once; later runs leave it alone (or give it a new password when asked)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from authgate.demo.workspace import ADMIN_USERNAME
from authgate.runtime import Runtime
from authgate.signin.passwords import hash_password


@dataclass(frozen=True)
class AdminStatus:
    username: str
    password: str | None  # None: the account existed and keeps its password


def new_password() -> str:
    # Readable to copy from a terminal: four groups of lower-case letters and digits.
    alphabet = "abcdefghjkmnpqrstuvwxyz23456789"
    return "-".join("".join(secrets.choice(alphabet) for _ in range(4)) for _ in range(4))


def ensure_admin(runtime: Runtime, *, reset: bool) -> AdminStatus:
    users = runtime.signin.users
    now = runtime.clock.now()
    existing = users.get(ADMIN_USERNAME)
    if existing is not None and not reset:
        return AdminStatus(ADMIN_USERNAME, None)
    password = new_password()
    if existing is None:
        users.add(ADMIN_USERNAME, role="admin", now=now, name="Demo Admin",
                  password_hash=hash_password(password))
    else:
        users.set_password_hash(ADMIN_USERNAME, hash_password(password), now)
        if existing.role != "admin" or existing.disabled:
            users.set_role(ADMIN_USERNAME, "admin", now)
            users.set_disabled(ADMIN_USERNAME, False, now)
    return AdminStatus(ADMIN_USERNAME, password)
