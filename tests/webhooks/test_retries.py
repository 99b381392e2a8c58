"""Retries driven by the clock, order per connection, and giving up after 24 hours."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from authgate.store.models import OutboxMessage
from tests.harness import bound, connect_hh, wait_until
from tests.webhooks.conftest import WebhookStack
from tests.webhooks.harness import outbox_rows


def _row(ws: WebhookStack, event_type: str, owner: str) -> OutboxMessage:
    rows = [r for r in outbox_rows(ws.stack.gateway.config, ws.stack.clock)
            if r.event_type == event_type and r.ordering_key.endswith(f":{owner}")]
    assert rows, f"no {event_type} message for {owner}"
    return rows[-1]


def _wait_row(ws: WebhookStack, event_type: str, owner: str, what: str,
              ready: Callable[[OutboxMessage], bool]) -> OutboxMessage:
    row: OutboxMessage = wait_until(
        lambda: row if ready(row := _row(ws, event_type, owner)) else None, what)
    return row


def test_a_failed_delivery_is_retried_with_backoff_and_holds_back_later_events(
        webhook_stack: WebhookStack) -> None:
    ws, stack, receiver = webhook_stack, webhook_stack.stack, webhook_stack.receiver
    api = httpx.Client(base_url=stack.gateway.url, headers=stack.auth, timeout=bound(30))
    receiver.script(500)
    connect_hh(stack.gateway.url, stack.api_key, "tg:1", account="10000001")
    failed = wait_until(lambda: [r for r in receiver.received() if r["status"] == 500],
                        "the first attempt, answered 500")
    created = _wait_row(ws, "connection.created", "tg:1", "the failure recorded",
                        lambda r: r.attempts == 1)
    assert created.state == "pending" and (created.last_answer or "").startswith("HTTP 500")
    assert created.last_attempt_at is not None
    # Exponential backoff with jitter: the first retry 2.5-5 s later, on the (frozen) clock.
    delay = (created.next_attempt_at - created.last_attempt_at).total_seconds()
    assert 2.5 <= delay <= 5.0

    # A later event of the same connection waits; another connection's does not.
    assert api.delete("/api/v1/connections/hh/tg:1").status_code == 204
    connect_hh(stack.gateway.url, stack.api_key, "tg:2", account="10000002")
    receiver.wait_for(1, "tg:2's connection.created")
    deleted = _row(ws, "connection.deleted", "tg:1")
    assert deleted.state == "pending" and deleted.claimed_by is None  # never even claimed
    assert [r["payload"]["data"]["owner"] for r in receiver.delivered()] == ["tg:2"]

    stack.clock.advance(5)  # the retry is due: delivered, then the held-back event
    delivered = receiver.wait_for(3, "the retry and the held-back event")
    tg1 = [r for r in delivered if r["payload"]["data"]["owner"] == "tg:1"]
    assert [r["payload"]["type"] for r in tg1] == ["connection.created", "connection.deleted"]
    assert tg1[0]["id"] == failed[0]["id"]  # the same webhook-id on every attempt
    row = _row(ws, "connection.created", "tg:1")
    assert row.state == "delivered" and row.attempts == 2


def test_a_message_is_dead_after_24_hours_of_failures(webhook_stack: WebhookStack) -> None:
    ws, stack, receiver = webhook_stack, webhook_stack.stack, webhook_stack.receiver
    receiver.script(*[503] * 10)
    stack.gateway.cli("users", "add", "dave", "--no-password")
    _wait_row(ws, "user.created", "dave", "the first failure", lambda r: r.attempts == 1)
    stack.clock.advance(24 * 3600 + 60)
    row = _wait_row(ws, "user.created", "dave", "the message given up",
                    lambda r: r.state == "dead")
    assert row.attempts == 2 and (row.last_answer or "").startswith("HTTP 503")
    assert receiver.delivered() == []
    metrics = httpx.get(f"{stack.gateway.url}/metrics").text
    assert 'authgate_outbox_deliveries_total{channel="webhook",outcome="dead"} 1.0' in metrics
