"""Connect links: a bot asks for one, its user opens it once within its lifetime."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from authgate.errors import FlowError, InvalidRequest
from authgate.store.models import ConnectSession
from authgate.store.single_use import Reason, Refused, SingleUse

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


def connect_url(public_url: str, link: ConnectLink) -> str:
    """Where the link's user goes: the confirmation page, which alone can use it up."""
    return f"{public_url}/connect/{link.provider}?session={link.token}"


def check_owner(owner: str) -> str:
    if not OWNER_PATTERN.fullmatch(owner):
        raise InvalidRequest("owner must be 1-200 characters of letters, digits and . _ : @ + - "
                             "(not starting with _, not only dots)",
                             error="invalid_owner")
    return owner


_LINKS = SingleUse(ConnectSession, ConnectSession.used_at)
_REFUSALS: dict[Reason, tuple[str, str]] = {
    "unknown": ("This connect link is not valid. Ask for a new one.", "invalid_connect_session"),
    "used": ("This connect link was already used. Ask for a new one.", "connect_session_used"),
    "expired": ("This connect link has expired. Ask for a new one.", "connect_session_expired"),
}


class ConnectLinks:
    def __init__(self, db: sessionmaker[Session]) -> None:
        self._db = db

    def create(self, provider: str, owner: str, *, now: datetime, lifetime: timedelta,
               requested_by: str | None = None) -> ConnectLink:
        check_owner(owner)
        expires_at = now + lifetime
        with self._db.begin() as s:
            token = _LINKS.issue(s, lambda key: ConnectSession(
                id=key, provider=provider, owner=owner, created_at=now, expires_at=expires_at,
                requested_by=requested_by))
        return ConnectLink(token=token, provider=provider, owner=owner, expires_at=expires_at,
                           requested_by=requested_by)

    def peek(self, token: str | None, provider: str, *, now: datetime) -> ConnectLink:
        """The link, if it could be used now, without using it: for the confirmation page (a
        link-preview bot that fetches it must not use it up)."""
        with self._db() as s:
            row = _refused_as_flow_error(lambda: _LINKS.find(
                s, _present(token), now, belongs=lambda r: r.provider == provider))
            return _link(row, token or "")

    def redeem(self, token: str | None, provider: str, *, now: datetime) -> ConnectLink:
        """Use a link once; returns who the connection will belong to."""
        with self._db.begin() as s:
            row = _refused_as_flow_error(lambda: _LINKS.redeem(
                s, _present(token), now, belongs=lambda r: r.provider == provider))
            return _link(row, token or "")


def _present(token: str | None) -> str:
    if not token:
        raise FlowError("This connect link is incomplete. Ask for a new one.",
                        error="missing_connect_session")
    return token


def _refused_as_flow_error(find: Callable[[], ConnectSession]) -> ConnectSession:
    try:
        return find()
    except Refused as refused:
        message, error = _REFUSALS[refused.reason]
        raise FlowError(message, error=error) from None


def _link(row: ConnectSession, token: str) -> ConnectLink:
    return ConnectLink(token=token, provider=row.provider, owner=row.owner,
                       expires_at=row.expires_at, requested_by=row.requested_by)
