"""The sign-in log: every attempt, its result and why, from where. Shown by ``authgate audit``.

``reason`` is always one of our error codes (``wrong_password``, ``id_token_nonce``, ...), never
text from the request, so nothing secret can end up in it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from authgate.metrics import SIGNINS
from authgate.store.models import SigninEvent

SUCCESS, FAILURE, REFUSED = "success", "failure", "refused"
PENDING = "checking"  # the reason of a failure row whose password is still being checked
LOCAL = "local"  # the provider name of password sign-ins


@dataclass(frozen=True)
class Client:
    """Who is signing in, as far as the request tells."""

    ip: str | None
    user_agent: str | None


@dataclass(frozen=True)
class EventView:
    at: datetime
    username: str | None
    provider: str
    result: str
    reason: str | None
    ip: str | None
    user_agent: str | None


def event_row(*, now: datetime, provider: str, result: str, client: Client,
              username: str | None, reason: str | None) -> SigninEvent:
    # A refusal keeps less of the User-Agent: anyone can make those lines, as many as they like.
    agent = (client.user_agent or "")[:128 if result == REFUSED else 512]
    return SigninEvent(at=now, username=(username or "")[:150] or None, provider=provider[:64],
                       result=result, reason=(reason or "")[:255] or None, ip=client.ip,
                       user_agent=agent or None)


class SigninLog:
    def __init__(self, db: sessionmaker[Session]) -> None:
        self._db = db

    def record(self, *, now: datetime, provider: str, result: str, client: Client,
               username: str | None = None, reason: str | None = None) -> int:
        """Add one line; returns its id (for ``settle``)."""
        event_id = self._add(now=now, provider=provider, result=result, client=client,
                             username=username, reason=reason)
        SIGNINS.labels(provider, result).inc()
        return event_id

    def settle(self, event_id: int, *, result: str, reason: str | None = None,
               username: str | None = None) -> None:
        with self._db.begin() as s:
            row = s.get(SigninEvent, event_id)
            if row is None:
                return
            row.result, row.reason = result, (reason or "")[:255] or None
            if username is not None:
                row.username = username[:150]
            provider = row.provider
        SIGNINS.labels(provider, result).inc()

    def _add(self, *, now: datetime, provider: str, result: str, client: Client,
             username: str | None, reason: str | None) -> int:
        with self._db.begin() as s:
            row = event_row(now=now, provider=provider, result=result, client=client,
                            username=username, reason=reason)
            s.add(row)
            s.flush()
            return row.id

    def recent(self, *, limit: int = 50, username: str | None = None,
               provider: str | None = None, result: str | None = None) -> list[EventView]:
        query = select(SigninEvent).order_by(SigninEvent.at.desc(), SigninEvent.id.desc())
        if username:
            query = query.where(SigninEvent.username == username)
        if provider:
            query = query.where(SigninEvent.provider == provider)
        if result:
            query = query.where(SigninEvent.result == result)
        with self._db() as s:
            return [EventView(at=e.at, username=e.username, provider=e.provider,
                              result=e.result, reason=e.reason, ip=e.ip,
                              user_agent=e.user_agent)
                    for e in s.scalars(query.limit(limit))]
