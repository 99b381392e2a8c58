"""The events authgate publishes, and their payloads. Plain module.

A payload says what changed and for whom, never a token: a receiver that needs one asks the
token API. ``connection.refreshed`` is frequent and goes only to endpoints that list it.
"""

from __future__ import annotations

from datetime import datetime

from authgate.outbox.message import Event

CONNECTION_CREATED = "connection.created"
CONNECTION_REFRESHED = "connection.refreshed"
CONNECTION_NEEDS_REAUTH = "connection.needs_reauth"
CONNECTION_DELETED = "connection.deleted"
USER_CREATED = "user.created"
USER_DISABLED = "user.disabled"
# Sent only on request (``authgate webhooks test``, the console's "test" button), never queued.
WEBHOOK_TEST = "webhook.test"

EVENT_TYPES = (CONNECTION_CREATED, CONNECTION_REFRESHED, CONNECTION_NEEDS_REAUTH,
               CONNECTION_DELETED, USER_CREATED, USER_DISABLED)
# What an endpoint that names no events (or "*") gets: everything but the opt-in ones.
OPT_IN = frozenset({CONNECTION_REFRESHED})
DEFAULT_EVENTS = tuple(t for t in EVENT_TYPES if t not in OPT_IN)


def subscribed(events: list[str] | tuple[str, ...], event_type: str) -> bool:
    """Whether an endpoint listing ``events`` gets ``event_type``."""
    if event_type in events:
        return True
    return (not events or "*" in events) and event_type not in OPT_IN


def check_event_names(events: list[str] | tuple[str, ...]) -> list[str]:
    """The list, or ValueError naming the unknown entries."""
    unknown = [e for e in events if e != "*" and e not in EVENT_TYPES]
    if unknown:
        raise ValueError(f"unknown event(s) {', '.join(unknown)}; known: "
                         f"{', '.join(EVENT_TYPES)} (or \"*\")")
    return list(events)


def connection_event(event_type: str, *, provider: str, owner: str, account: str | None,
                     status: str | None, at: datetime, reason: str | None = None,
                     **extra: object) -> Event:
    data: dict[str, object] = {"provider": provider, "owner": owner, "account": account,
                               "status": status}
    if reason is not None:
        data["reason"] = reason
    data.update(extra)
    return Event(event_type, data, ordering_key=f"connection:{provider}:{owner}", at=at)


def user_event(event_type: str, *, username: str, role: str, at: datetime,
               **extra: object) -> Event:
    data: dict[str, object] = {"username": username, "role": role, **extra}
    return Event(event_type, data, ordering_key=f"user:{username}", at=at)


def test_event(endpoint_id: str, at: datetime) -> Event:
    return Event(WEBHOOK_TEST, {"endpoint": endpoint_id}, ordering_key=f"test:{endpoint_id}",
                 at=at)
