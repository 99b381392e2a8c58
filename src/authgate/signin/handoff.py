"""One-time codes that carry a session to a panel on another origin.

The browser comes back to the panel with ``?handoff=<code>``; the panel's page (or back-end)
trades it at ``POST /auth/token`` for the session JWT. The code is the only thing in that URL: it
lives 60 s, works once, and we store only its SHA-256, so the URL is worthless after the trade
(unlike a JWT in a URL, which would stay valid for the whole session wherever the URL is logged).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from authgate.errors import InvalidRequest
from authgate.secrets_util import digest, new_secret
from authgate.store.models import HandoffCode

HANDOFF_LIFETIME = timedelta(seconds=60)
HANDOFF_PARAM = "handoff"


class HandoffCodes:
    def __init__(self, db: sessionmaker[Session]) -> None:
        self._db = db

    def create(self, session_id: str, now: datetime) -> str:
        code = new_secret()
        with self._db.begin() as s:
            s.add(HandoffCode(id=digest(code), session_id=session_id, created_at=now,
                              expires_at=now + HANDOFF_LIFETIME, used_at=None))
        return code

    def redeem(self, code: str | None, now: datetime) -> str:
        """The session id the code stands for; each code works once, within 60 s."""
        refused = InvalidRequest("The sign-in code is unknown, expired or already used. "
                                 "Please sign in again.", error="invalid_handoff")
        if not code or len(code) > 128:
            raise refused
        with self._db.begin() as s:
            row = s.get(HandoffCode, digest(code))
            if row is None or row.used_at is not None or row.expires_at <= now:
                raise refused
            # One conditional UPDATE: of two racing redemptions only one changes the row.
            won = s.execute(update(HandoffCode).where(HandoffCode.id == row.id,
                                                      HandoffCode.used_at.is_(None))
                            .values(used_at=now)).rowcount  # type: ignore[attr-defined]
            if not won:
                raise refused
            return row.session_id


def with_handoff(url: str, code: str) -> str:
    """``url`` with ``handoff=<code>`` added to its query (any old ``handoff`` dropped)."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
             if k != HANDOFF_PARAM]
    query.append((HANDOFF_PARAM, code))
    return urlunsplit(parts._replace(query=urlencode(query)))
