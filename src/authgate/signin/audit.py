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


class SigninLog:
    def __init__(self, db: sessionmaker[Session]) -> None:
        self._db = db

    def record(self, *, now: datetime, provider: str, result: str, client: Client,
               username: str | None = None, reason: str | None = None) -> None:
        with self._db.begin() as s:
            s.add(SigninEvent(at=now, username=(username or "")[:150] or None,
                              provider=provider[:64], result=result,
                              reason=(reason or "")[:255] or None, ip=client.ip,
                              user_agent=(client.user_agent or "")[:512] or None))
        SIGNINS.labels(provider, result).inc()

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
