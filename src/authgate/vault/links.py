"""Connect links: a bot asks for one, its user opens it once within its lifetime."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from authgate.errors import FlowError, InvalidRequest
from authgate.secrets_util import digest, new_secret
from authgate.store.models import ConnectSession

# Owners are chosen by the bot ("tg:12345", "default"); keep them printable and URL-safe-ish.
# A leading underscore is reserved for authgate's own owners (e.g. the application token).
# Not "." or "..": an owner goes into URL paths (/api/v1/connections/hh/OWNER), where those are
# path segments of their own.
OWNER_PATTERN = re.compile(r"\A(?!\.+\Z)[A-Za-z0-9.:@+-][A-Za-z0-9._:@+-]{0,199}\Z")


@dataclass(frozen=True)
class ConnectLink:
    token: str
    provider: str
    owner: str
    expires_at: datetime
    requested_by: str | None = None


def check_owner(owner: str) -> str:
    if not OWNER_PATTERN.fullmatch(owner):
        raise InvalidRequest("owner must be 1-200 characters of letters, digits and . _ : @ + - "
                             "(not starting with _, not only dots)",
                             error="invalid_owner")
    return owner


class ConnectLinks:
    def __init__(self, db: sessionmaker[Session]) -> None:
        self._db = db

    def create(self, provider: str, owner: str, *, now: datetime, lifetime: timedelta,
               requested_by: str | None = None) -> ConnectLink:
        check_owner(owner)
        token = new_secret()
        expires_at = now + lifetime
        with self._db.begin() as s:
            s.add(ConnectSession(id=digest(token), provider=provider, owner=owner,
                                 created_at=now, expires_at=expires_at,
                                 requested_by=requested_by))
        return ConnectLink(token=token, provider=provider, owner=owner, expires_at=expires_at,
                           requested_by=requested_by)

    def peek(self, token: str | None, provider: str, *, now: datetime) -> ConnectLink:
        """The link, if it could be used now, without using it: for the confirmation page (a
        link-preview bot that fetches it must not use it up)."""
        with self._db() as s:
            row = self._usable(s, token, provider, now)
            return ConnectLink(token=token or "", provider=row.provider, owner=row.owner,
                               expires_at=row.expires_at, requested_by=row.requested_by)

    def _usable(self, s: Session, token: str | None, provider: str,
                now: datetime) -> ConnectSession:
        if not token:
            raise FlowError("This connect link is incomplete. Ask for a new one.",
                            error="missing_connect_session")
        row = s.get(ConnectSession, digest(token), with_for_update=True)
        if row is None or row.provider != provider:
            raise FlowError("This connect link is not valid. Ask for a new one.",
                            error="invalid_connect_session")
        if row.used_at is not None:
            raise FlowError("This connect link was already used. Ask for a new one.",
                            error="connect_session_used")
        if row.expires_at <= now:
            raise FlowError("This connect link has expired. Ask for a new one.",
                            error="connect_session_expired")
        return row

    def redeem(self, token: str | None, provider: str, *, now: datetime) -> ConnectLink:
        """Use a link once; returns who the connection will belong to."""
        with self._db.begin() as s:
            row = self._usable(s, token, provider, now)
            won = s.execute(update(ConnectSession).where(ConnectSession.id == row.id,
                                                         ConnectSession.used_at.is_(None))
                            .values(used_at=now)).rowcount  # type: ignore[attr-defined]
            if not won:
                raise FlowError("This connect link was already used. Ask for a new one.",
                                error="connect_session_used")
            return ConnectLink(token=token or "", provider=row.provider, owner=row.owner,
                               expires_at=row.expires_at, requested_by=row.requested_by)
