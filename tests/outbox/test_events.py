"""Which endpoint gets which event; payloads carry no secrets by construction."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from authgate.outbox import events


def test_refreshed_is_opt_in() -> None:
    assert events.subscribed([], events.CONNECTION_NEEDS_REAUTH)
    assert not events.subscribed([], events.CONNECTION_REFRESHED)
    assert not events.subscribed(["*"], events.CONNECTION_REFRESHED)
    assert events.subscribed(["*", events.CONNECTION_REFRESHED], events.CONNECTION_REFRESHED)
    assert not events.subscribed([events.USER_CREATED], events.USER_DISABLED)


def test_unknown_names_are_refused() -> None:
    with pytest.raises(ValueError, match=r"user\.eaten"):
        events.check_event_names(["user.created", "user.eaten"])


def test_a_connection_event_body() -> None:
    at = datetime(2026, 12, 1, 18, 0, tzinfo=UTC)
    event = events.connection_event(events.CONNECTION_NEEDS_REAUTH, provider="hh", owner="tg:1",
                                    account="42", status="needs_reauth", at=at,
                                    reason="token was revoked")
    assert event.ordering_key == "connection:hh:tg:1"
    assert json.loads(event.body()) == {
        "type": "connection.needs_reauth", "timestamp": "2026-12-01T18:00:00+00:00",
        "data": {"provider": "hh", "owner": "tg:1", "account": "42", "status": "needs_reauth",
                 "reason": "token was revoked"}}
