"""People who may sign in, and the provider accounts linked to them.

An OpenID account is linked by ``(provider, subject)`` only. Never by email: an email claim is not
proof of owning a local account (an IdP may not verify it), so matching on it would let anyone who
can set that address at some provider take the account over.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from authgate.errors import Conflict, InvalidRequest, NotFound
from authgate.outbox import events
from authgate.outbox.store import Outbox
from authgate.store.models import Identity, User
from authgate.store.models import Session as SessionRow

# \A and \Z, not ^ and $: "$" also matches before a final newline, so "bob\n" would pass.
USERNAME = re.compile(r"\A[\w.@+-]{1,150}\Z")
_LOCAL_PART_DROP = re.compile(r"[^a-z0-9._-]+")


@dataclass(frozen=True)
class UserView:
    id: int
    username: str
    role: str
    email: str | None
    name: str | None
    picture: str | None
    disabled: bool
    has_password: bool
    created_at: datetime
    updated_at: datetime
    attributes: dict[str, Any] = field(default_factory=dict)
    identities: tuple[tuple[str, str], ...] = ()  # (provider, subject)


@dataclass(frozen=True)
class Profile:
    """What an identity provider says about a person; None means "not given"."""

    email: str | None = None
    name: str | None = None
    picture: str | None = None


def provider_email(claims: Mapping[str, Any], *, trust_email: bool) -> str | None:
    """The email an identity provider vouches for, or None.

    Only an address the provider marks ``email_verified`` (or every address, for a provider
    configured with ``trust_email = true``) is passed on to panels and used for a username: an
    unverified claim is whatever the person typed at the provider, e.g. a local user's address.
    An address must have exactly one ``@``, something on both sides, and no spaces or control
    characters (it ends up in HTTP headers)."""
    value = claims.get("email")
    if not isinstance(value, str) or len(value) > 320:
        return None
    verified = claims.get("email_verified")
    if not trust_email and verified is not True and verified != "true":
        return None
    local, at, domain = value.partition("@")
    if (not at or not local or not domain or "@" in domain
            or any(c.isspace() or not c.isprintable() for c in value)):
        return None
    return value


def check_username(username: str) -> str:
    if not USERNAME.match(username):
        raise InvalidRequest("a username is 1-150 letters, digits or . @ + - _",
                             error="invalid_username")
    return username


def username_base(email: str | None, fallback: str | None = None) -> str:
    """A username from the local part of an email: lower-case, a-z 0-9 . _ - only; then from
    ``fallback`` (the subject) when nothing is left; then "user"."""
    for source in ((email or "").partition("@")[0], fallback or ""):
        base = _LOCAL_PART_DROP.sub("", source.lower()).strip(".-_")[:40]
        if base:
            return base
    return "user"


class UserStore:
    def __init__(self, db: sessionmaker[Session],
                 on_revoke: Callable[..., None] | None = None, *,
                 outbox: Outbox) -> None:
        self._db = db
        # user.created and user.disabled are written to it in the change's transaction.
        self._outbox = outbox
        # Told the session ids this store revoked, after the commit: the in-memory revocation
        # set of this process (see signin/revocations.py) learns them at once.
        self._on_revoke = on_revoke

    # -- reading ------------------------------------------------------------------------------
    def get(self, username: str) -> UserView | None:
        with self._db() as s:
            row = s.scalar(select(User).where(User.username == username))
            return user_view(s, row) if row else None

    def require(self, username: str) -> UserView:
        user = self.get(username)
        if user is None:
            raise NotFound(f"no user named {username!r}", error="user_not_found")
        return user

    def by_id(self, user_id: int) -> UserView | None:
        with self._db() as s:
            row = s.get(User, user_id)
            return user_view(s, row) if row else None

    def list_users(self) -> list[UserView]:
        with self._db() as s:
            return [user_view(s, row) for row in s.scalars(select(User).order_by(User.username))]

    def credentials(self, username: str) -> tuple[UserView | None, str | None]:
        """The user and their password hash, for a password sign-in."""
        with self._db() as s:
            row = s.scalar(select(User).where(User.username == username))
            return (user_view(s, row), row.password_hash) if row else (None, None)

    # -- writing ------------------------------------------------------------------------------
    def add(self, username: str, *, role: str, now: datetime, email: str | None = None,
            name: str | None = None, password_hash: str | None = None) -> UserView:
        check_username(username)
        try:
            with self._db.begin() as s:
                row = User(username=username, role=role, email=email, name=name,
                           password_hash=password_hash, disabled=False, attributes={},
                           created_at=now, updated_at=now)
                s.add(row)
                s.flush()
                self._publish(s, events.USER_CREATED, row, now, provider="local")
                return user_view(s, row)
        except IntegrityError:
            raise Conflict(f"a user named {username!r} already exists",
                           error="user_exists") from None

    def set_password_hash(self, username: str, password_hash: str | None, now: datetime) -> None:
        self._update(username, now, password_hash=password_hash)

    def set_role(self, username: str, role: str, now: datetime) -> UserView:
        """A changed role also ends the user's sessions: their tokens carry the old role, and a
        demotion must not wait for them to expire. The next sign-in carries the new one."""
        if not role or len(role) > 64:
            raise InvalidRequest("a role is 1-64 characters", error="invalid_role")
        revoked: list[str] = []
        with self._db.begin() as s:
            row = s.scalar(select(User).where(User.username == username))
            if row is None:
                raise NotFound(f"no user named {username!r}", error="user_not_found")
            if row.role != role:
                row.role, row.updated_at = role, now
                revoked = _revoke_sessions(s, row.id, now)
            view = user_view(s, row)
        self._revoked(revoked)
        return view

    def set_disabled(self, username: str, disabled: bool, now: datetime) -> UserView:
        """Disabling also revokes every session of the user, in the same transaction."""
        revoked: list[str] = []
        with self._db.begin() as s:
            row = s.scalar(select(User).where(User.username == username))
            if row is None:
                raise NotFound(f"no user named {username!r}", error="user_not_found")
            newly_disabled = disabled and not row.disabled
            row.disabled, row.updated_at = disabled, now
            if disabled:
                revoked = _revoke_sessions(s, row.id, now)
            if newly_disabled:
                self._publish(s, events.USER_DISABLED, row, now)
            view = user_view(s, row)
        self._revoked(revoked)
        return view

    def _publish(self, s: Session, event_type: str, row: User, now: datetime,
                 **extra: object) -> None:
        publish_user_event(self._outbox, s, event_type, row, now, **extra)

    def _revoked(self, sids: list[str]) -> None:
        if sids and self._on_revoke is not None:
            self._on_revoke(*sids)

    def _update(self, username: str, now: datetime, **values: Any) -> None:
        with self._db.begin() as s:
            changed = s.execute(update(User).where(User.username == username)
                                .values(updated_at=now, **values)).rowcount  # type: ignore[attr-defined]
            if not changed:
                raise NotFound(f"no user named {username!r}", error="user_not_found")

    def upsert_from_provider(self, provider: str, subject: str, profile: Profile, *,
                             role: str | None, default_role: str,
                             now: datetime) -> tuple[UserView, bool]:
        """The user linked to ``(provider, subject)``, created on first sign-in; the profile is
        refreshed every time, and the role too when the provider's roles decide it (``role``).
        A role the provider changed ends every session of the user, as ``set_role`` does: a
        demotion at the provider must not leave another device signed in with the old role.

        Returns the user and whether it was created. Two first sign-ins racing on the same
        identity end with one user: the loser of the unique constraint retries and finds it.
        """
        for _attempt in range(3):
            try:
                return self._upsert(provider, subject, profile, role, default_role, now)
            except IntegrityError:
                continue
        raise Conflict("could not create the user (concurrent sign-ins); please try again",
                       error="user_create_conflict")

    def _upsert(self, provider: str, subject: str, profile: Profile, role: str | None,
                default_role: str, now: datetime) -> tuple[UserView, bool]:
        revoked: list[str] = []
        with self._db.begin() as s:
            row = s.scalar(select(User).join(Identity, Identity.user_id == User.id).where(
                Identity.provider == provider, Identity.subject == subject))
            created = row is None
            if row is None:
                row = User(username=_unique_username(s, username_base(profile.email, subject)),
                           role=role or default_role, disabled=False, attributes={},
                           created_at=now, updated_at=now)
                s.add(row)
                s.flush()
                s.add(Identity(user_id=row.id, provider=provider, subject=subject,
                               created_at=now))
                self._publish(s, events.USER_CREATED, row, now, provider=provider)
            elif role is not None and row.role != role:
                row.role = role
                revoked = _revoke_sessions(s, row.id, now)
            for name in ("email", "name", "picture"):
                value = getattr(profile, name)
                if value is not None:
                    setattr(row, name, value)
            row.updated_at = now
            s.flush()
            view = user_view(s, row)
        self._revoked(revoked)
        return view, created


def publish_user_event(outbox: Outbox, s: Session, event_type: str, row: User, now: datetime,
                       **extra: object) -> None:
    """Write a user event to the outbox, in the transaction ``s`` of the change."""
    outbox.publish(s, events.user_event(event_type, username=row.username, role=row.role,
                                        at=now, **extra))


def _revoke_sessions(s: Session, user_id: int, now: datetime) -> list[str]:
    """Revoke every live session of the user; returns their ids."""
    sids = list(s.scalars(select(SessionRow.id).where(SessionRow.user_id == user_id,
                                                      SessionRow.revoked_at.is_(None))))
    if sids:
        s.execute(update(SessionRow).where(SessionRow.id.in_(sids)).values(revoked_at=now))
    return sids


def _unique_username(s: Session, base: str) -> str:
    taken = set(s.scalars(select(User.username).where(
        func.lower(User.username).like(f"{base}%"))))
    lowered = {name.lower() for name in taken}
    if base not in lowered:
        return base
    n = 2
    while f"{base}{n}" in lowered:
        n += 1
    return f"{base}{n}"


def user_view(s: Session, row: User) -> UserView:
    identities = tuple((p, sub) for p, sub in s.execute(
        select(Identity.provider, Identity.subject).where(Identity.user_id == row.id)
        .order_by(Identity.id)))
    return UserView(id=row.id, username=row.username, role=row.role, email=row.email,
                    name=row.name, picture=row.picture, disabled=bool(row.disabled),
                    has_password=bool(row.password_hash), created_at=row.created_at,
                    updated_at=row.updated_at, attributes=dict(row.attributes or {}),
                    identities=identities)
