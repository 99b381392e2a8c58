"""One-time codes that carry a session to a panel on another origin.

The browser comes back to the panel with ``?handoff=<code>``; the panel's page (or back-end)
trades it at ``POST /auth/token`` for the session JWT. The code is the only thing in that URL: it
lives 60 s, works once, and we store only its SHA-256, so the URL is worthless after the trade
(unlike a JWT in a URL, which would stay valid for the whole session wherever the URL is logged).

A code is also bound to the origin of the panel it was made for: the trade must name it in
``Origin`` (browsers send that header on every cross-origin fetch and scripts cannot change it),
so a code leaked through a log or a Referer cannot be traded by a page on another site. A trade
from the wrong origin uses the code up all the same: whoever holds a leaked code gets one try,
and the panel's sign-in simply starts again.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from sqlalchemy.orm import Session, sessionmaker

from authgate.errors import InvalidRequest
from authgate.signin.redirects import origin_of
from authgate.store.models import HandoffCode
from authgate.store.single_use import Refused, SingleUse

HANDOFF_LIFETIME = timedelta(seconds=60)
HANDOFF_PARAM = "handoff"
_CODES = SingleUse(HandoffCode, HandoffCode.used_at)


class HandoffCodes:
    def __init__(self, db: sessionmaker[Session]) -> None:
        self._db = db

    def create(self, session_id: str, now: datetime, *, origin: str) -> str:
        """A code for the panel at ``origin`` (``scheme://host[:port]``)."""
        with self._db.begin() as s:
            code = _CODES.issue(s, lambda key: HandoffCode(
                id=key, session_id=session_id, created_at=now,
                expires_at=now + HANDOFF_LIFETIME, used_at=None, origin=origin))
        return code

    def redeem(self, code: str | None, now: datetime, *, origin: str | None) -> str:
        """The session id the code stands for; each code works once, within 60 s, and only
        for a request from the origin it was made for (a wrong one uses it up)."""
        if not code or len(code) > 128:
            raise _refused()
        with self._db.begin() as s:
            try:
                row = _CODES.redeem(s, code, now)
            except Refused:
                raise _refused() from None
            session_id, bound = row.session_id, row.origin
        # Checked after the commit: a wrong origin has used the code up.
        asked = origin_of(origin) if origin else None
        if bound is None or asked != bound:
            raise _refused("This sign-in code was made for another site. Please sign in again.")
        return session_id


def _refused(detail: str = "The sign-in code is unknown, expired or already used. "
                           "Please sign in again.") -> InvalidRequest:
    return InvalidRequest(detail, error="invalid_handoff")


def with_handoff(url: str, code: str) -> str:
    """``url`` with ``handoff=<code>`` added to its query (any old ``handoff`` dropped)."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
             if k != HANDOFF_PARAM]
    query.append((HANDOFF_PARAM, code))
    return urlunsplit(parts._replace(query=urlencode(query)))
