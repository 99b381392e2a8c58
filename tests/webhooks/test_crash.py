"""kill -9 between a change and its delivery: the event is in the database with the change, and
arrives exactly once after the restart."""

from __future__ import annotations

from collections import Counter

from tests.harness import connect_hh, wait_until
from tests.webhooks.conftest import WebhookStack
from tests.webhooks.harness import ReceiverProcess, outbox_rows


def test_needs_reauth_survives_kill_9_and_arrives_once(webhook_stack: WebhookStack) -> None:
    ws, stack, receiver = webhook_stack, webhook_stack.stack, webhook_stack.receiver
    gateway = stack.gateway
    connect_hh(gateway.url, stack.api_key, "tg:7", account="10000001")
    receiver.wait_for(1, "connection.created")
    receiver.stop()  # the receiver is down: nothing can be delivered from here on

    stack.devidp.control("hh/revoke", {"account_id": "10000001"})
    stack.expire_tokens()
    wait_until(lambda: [r for r in outbox_rows(gateway.config, stack.clock)
                        if r.event_type == "connection.needs_reauth"],
               "connection.needs_reauth committed")
    gateway.kill()  # SIGKILL: no shutdown of any kind

    again = ReceiverProcess(ws.tmp, ws.secret, stack.clock, port=receiver.port)
    try:
        again.start()
        # Past any backoff and any lease the dead process held, before the restart: moved while
        # the new process delivers, the clock would put a signature made before the move outside
        # the receiver's five minutes, and the retry after the refusal would wait for a later
        # time that no test brings.
        stack.clock.advance(3600)
        gateway.start()
        delivered = again.wait_for(1, "connection.needs_reauth after the restart")
        assert [r["payload"]["type"] for r in delivered] == ["connection.needs_reauth"]
        assert delivered[0]["payload"]["data"]["owner"] == "tg:7"
        reauth = [r for r in outbox_rows(gateway.config, stack.clock)
                  if r.event_type == "connection.needs_reauth"]
        assert len(reauth) == 1 and reauth[0].message_id == delivered[0]["id"]
        wait_until(lambda: all(r.state == "delivered"
                               for r in outbox_rows(gateway.config, stack.clock)),
                   "the delivery recorded")
        ids = Counter(r["id"] for r in again.delivered())
        assert ids == Counter({reauth[0].message_id: 1})
    finally:
        again.stop()
