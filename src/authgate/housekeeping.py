"""Dropping what has outlived its use: finished browser flows, used or expired one-time codes and
links, expired sessions, and (after a long retention) old sign-in log lines.

Expired records are kept a day first: a replayed state or code is then still recognised as
"already used" rather than "unknown", which makes for clearer errors and audit lines.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.orm import Session, sessionmaker

from authgate.outbox.store import PENDING
from authgate.signin.audit import REFUSED
from authgate.store.models import AuthFlow, ConnectSession, HandoffCode, OutboxMessage, SigninEvent
from authgate.store.models import Session as SessionRow

log = logging.getLogger("authgate.housekeeping")

GRACE = timedelta(days=1)
SIGNIN_LOG_RETENTION = timedelta(days=180)
# Refused attempts (limits, CSRF-less bursts, disabled accounts) are noise an anonymous client can
# make: kept two weeks, long enough to look into an attack.
REFUSED_RETENTION = timedelta(days=14)
# Delivered and dead outbox messages stay in the console's delivery log (and can be resent)
# this long.
OUTBOX_RETENTION = timedelta(days=30)
INTERVAL_SECONDS = 3600.0


def purge_stale(db: sessionmaker[Session], now: datetime) -> dict[str, int]:
    """One pass; returns how many rows went, by table."""
    cutoff = now - GRACE
    statements = {
        "auth_flows": delete(AuthFlow).where(AuthFlow.expires_at < cutoff),
        "connect_sessions": delete(ConnectSession).where(ConnectSession.expires_at < cutoff),
        "handoff_codes": delete(HandoffCode).where(HandoffCode.expires_at < cutoff),
        # A session past its expiry cannot be used whatever its revocation says.
        "sessions": delete(SessionRow).where(SessionRow.expires_at < cutoff),
        "signin_events": delete(SigninEvent).where(SigninEvent.at < now - SIGNIN_LOG_RETENTION),
        "signin_events_refused": delete(SigninEvent).where(
            SigninEvent.result == REFUSED, SigninEvent.at < now - REFUSED_RETENTION),
        "outbox_messages": delete(OutboxMessage).where(
            OutboxMessage.state != PENDING, OutboxMessage.created_at < now - OUTBOX_RETENTION),
    }
    removed = {}
    with db.begin() as s:
        for table, statement in statements.items():
            removed[table] = int(s.execute(statement).rowcount)  # type: ignore[attr-defined]
    if any(removed.values()):
        log.info("purged %s", " ".join(f"{k}={v}" for k, v in removed.items() if v))
    return removed
