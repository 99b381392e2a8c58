"""Connect links: a bot asks for one, its user opens it once within its lifetime."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from authgate.errors import FlowError, InvalidRequest
from authgate.store.models import ConnectSession
from authgate.store.single_use import Reason, Refused, SingleUse

# Owners are chosen by the bot ("tg:12345", "default"); keep them printable and URL-safe-ish.
# A leading underscore is reserved for authgate's own owners (e.g. the application token).
OWNER_PATTERN = re.compile(r"^[A-Za-z0-9.:@+-][A-Za-z0-9._:@+-]{0,199}$")


@dataclass(frozen=True)
class ConnectLink:
    token: str
    provider: str
    owner: str
    expires_at: datetime


def check_owner(owner: str) -> str:
    if not OWNER_PATTERN.fullmatch(owner):
        raise InvalidRequest("owner must be 1-200 characters of letters, digits and . _ : @ + - "
                             "(not starting with _)",
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

    def create(self, provider: str, owner: str, *, now: datetime,
               lifetime: timedelta) -> ConnectLink:
        check_owner(owner)
        expires_at = now + lifetime
        with self._db.begin() as s:
            token = _LINKS.issue(s, lambda key: ConnectSession(
                id=key, provider=provider, owner=owner, created_at=now, expires_at=expires_at))
        return ConnectLink(token=token, provider=provider, owner=owner, expires_at=expires_at)

    def redeem(self, token: str | None, provider: str, *, now: datetime) -> ConnectLink:
        """Use a link once; returns who the connection will belong to."""
        if not token:
            raise FlowError("This connect link is incomplete. Ask for a new one.",
                            error="missing_connect_session")
        with self._db.begin() as s:
            try:
                row = _LINKS.redeem(s, token, now, belongs=lambda r: r.provider == provider)
            except Refused as refused:
                message, error = _REFUSALS[refused.reason]
                raise FlowError(message, error=error) from None
            return ConnectLink(token=token, provider=row.provider, owner=row.owner,
                               expires_at=row.expires_at)
