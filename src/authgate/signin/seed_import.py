"""``authgate users import users.json``: bring the users of an existing panel over, and back out.

The seed format is ``{username: {username, password, role, servers, oidc_id, email, name, picture,
provider, created_at}}``. Columns we have (role, email, name, picture, disabled) are columns;
``oidc_id`` (``"zitadel:123"``) becomes a linked identity, so that person's next OpenID sign-in
finds this user; every other field (``servers``, ``provider``, ``created_at`` as written, unknown
ones) is kept verbatim in ``attributes``, so ``export`` gives back what was imported. Passwords:
see ``passwords.seed_password`` (argon2 kept, plaintext hashed, other hashes refused).

The whole file is checked first and written in one transaction: all users or none.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from authgate.errors import InvalidRequest
from authgate.outbox import events
from authgate.outbox.store import Outbox
from authgate.signin.passwords import seed_password
from authgate.signin.users import USERNAME, publish_user_event
from authgate.store.models import Identity, User

_COLUMNS = ("role", "email", "name", "picture")
_HANDLED = {"username", "password", "oidc_id", "disabled", *_COLUMNS}


@dataclass
class ImportResult:
    username: str
    action: str  # created | updated
    password: str  # see SeedPassword.outcome
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Entry:
    username: str
    data: dict[str, Any]
    identity: tuple[str, str] | None
    created_at: datetime | None


def _parse_time(value: object) -> datetime | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = value / 1000 if value > 1e11 else value  # JavaScript's milliseconds
        return datetime.fromtimestamp(seconds, UTC)
    if isinstance(value, str) and value:
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None


def _check(seed: object) -> list[_Entry]:
    if not isinstance(seed, dict):
        raise InvalidRequest("users.json must be an object of {username: {...}}",
                             error="invalid_seed")
    entries = []
    for key, data in seed.items():
        if not isinstance(data, dict):
            raise InvalidRequest(f"user {key!r}: expected an object", error="invalid_seed")
        if not USERNAME.match(str(key)):
            raise InvalidRequest(f"user {key!r}: not a valid username", error="invalid_seed")
        for name in _COLUMNS:
            if data.get(name) is not None and not isinstance(data[name], str):
                raise InvalidRequest(f"user {key!r}: {name} must be a string",
                                     error="invalid_seed")
        identity = None
        oidc_id = data.get("oidc_id")
        if oidc_id not in (None, ""):
            provider, sep, subject = str(oidc_id).partition(":")
            if not sep or not provider or not subject:
                raise InvalidRequest(f"user {key!r}: oidc_id must look like 'provider:subject'",
                                     error="invalid_seed")
            identity = (provider, subject)
        entries.append(_Entry(str(key), data, identity, _parse_time(data.get("created_at"))))
    return entries


def import_users(db: sessionmaker[Session], seed: object, *, default_role: str,
                 now: datetime, outbox: Outbox) -> list[ImportResult]:
    """Create or update every user of the seed in one transaction; new users and newly
    disabled ones are announced (user.created, user.disabled) through ``outbox`` in it."""
    entries = _check(seed)
    results = []
    with db.begin() as s:
        for entry in entries:
            results.append(_apply(s, entry, default_role, now, outbox))
    return results


def _apply(s: Session, entry: _Entry, default_role: str, now: datetime,
           outbox: Outbox) -> ImportResult:
    data = entry.data
    row = s.scalar(select(User).where(User.username == entry.username))
    result = ImportResult(entry.username, "updated" if row else "created", "none")
    was_disabled = bool(row.disabled) if row else False
    if row is None:
        row = User(username=entry.username, role=default_role, disabled=False, attributes={},
                   created_at=entry.created_at or now, updated_at=now)
        s.add(row)
    if data.get("username") not in (None, entry.username):
        result.notes.append(f"its username field {data['username']!r} differs from the key; "
                            f"the key was used")
    for name in _COLUMNS:
        if data.get(name) is not None:
            setattr(row, name, data[name])
    if isinstance(data.get("disabled"), bool):
        row.disabled = data["disabled"]
    if entry.created_at is not None:
        row.created_at = entry.created_at
    row.attributes = {**(row.attributes or {}),
                      **{k: v for k, v in data.items() if k not in _HANDLED}}
    row.updated_at = now
    password = seed_password(data.get("password"))
    result.password = password.outcome
    if password.hash is not None:
        row.password_hash = password.hash
    s.flush()
    if entry.identity is not None:
        _link(s, row, entry.identity, now, result)
    if result.action == "created":
        publish_user_event(outbox, s, events.USER_CREATED, row, now, provider="import")
    elif row.disabled and not was_disabled:
        publish_user_event(outbox, s, events.USER_DISABLED, row, now)
    return result


def _link(s: Session, row: User, identity: tuple[str, str], now: datetime,
          result: ImportResult) -> None:
    provider, subject = identity
    linked = s.scalar(select(Identity).where(Identity.provider == provider,
                                             Identity.subject == subject))
    if linked is None:
        s.add(Identity(user_id=row.id, provider=provider, subject=subject, created_at=now))
    elif linked.user_id != row.id:
        result.notes.append(f"{provider}:{subject} is already linked to another user; not moved")


def export_users(db: sessionmaker[Session]) -> dict[str, dict[str, Any]]:
    """The seed format again: what ``import_users`` keeps comes back unchanged."""
    out: dict[str, dict[str, Any]] = {}
    with db() as s:
        for row in s.scalars(select(User).order_by(User.username)):
            ident = s.scalar(select(Identity).where(Identity.user_id == row.id)
                             .order_by(Identity.id))
            attributes = dict(row.attributes or {})
            out[row.username] = {
                "username": row.username, "password": row.password_hash, "role": row.role,
                "email": row.email, "name": row.name, "picture": row.picture,
                "oidc_id": f"{ident.provider}:{ident.subject}" if ident else None,
                **attributes,
                "created_at": attributes.get("created_at", row.created_at.isoformat()),
            }
            if row.disabled:
                out[row.username]["disabled"] = True
    return out
