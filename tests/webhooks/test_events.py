"""Every event type, produced by the real server and checked by an independent verifier."""

from __future__ import annotations

import httpx

from tests.harness import assert_no_secrets, bound, connect_hh
from tests.stacks import Stack
from tests.webhooks.conftest import WebhookStack
from tests.webhooks.harness import outbox_rows


def _types(records: list[dict[str, object]]) -> list[str]:
    return [r["payload"]["type"] for r in records]  # type: ignore[index]


def test_each_event_type_arrives_signed_and_without_tokens(webhook_stack: WebhookStack) -> None:
    stack, receiver = webhook_stack.stack, webhook_stack.receiver
    gateway = stack.gateway
    gateway.cli("users", "add", "carol", "--password-stdin", input_text="s3cret-passw0rd\n")
    gateway.cli("users", "disable", "carol")
    connect_hh(gateway.url, stack.api_key, "tg:1", account="10000001")
    receiver.wait_for(3, "user.created, user.disabled, connection.created")

    issued = _stored_tokens(stack)
    stack.expire_tokens()  # the engine refreshes: connection.refreshed (opted in)
    receiver.wait_for(4, "connection.refreshed")
    issued += _stored_tokens(stack)
    stack.devidp.control("hh/revoke", {"account_id": "10000001"})
    stack.expire_tokens()  # the next refresh finds the grant revoked
    receiver.wait_for(5, "connection.needs_reauth")
    api = httpx.Client(base_url=gateway.url, headers=stack.auth, timeout=bound(30))
    assert api.get("/api/v1/connections/hh/tg:1/token").status_code == 409  # no second event
    assert api.delete("/api/v1/connections/hh/tg:1").status_code == 204
    delivered = receiver.wait_for(6, "connection.deleted")

    assert all(r["verified"] for r in receiver.received())
    # In order per user and per connection (there is no order between the two).
    assert [t for t in _types(delivered) if t.startswith("user.")] == [
        "user.created", "user.disabled"]
    assert [t for t in _types(delivered) if t.startswith("connection.")] == [
        "connection.created", "connection.refreshed", "connection.needs_reauth",
        "connection.deleted"]
    by_type = {r["payload"]["type"]: r["payload"] for r in delivered}
    assert by_type["user.created"]["data"] == {"username": "carol", "role": "user",
                                               "provider": "local"}
    assert by_type["connection.created"]["data"] == {
        "provider": "hh", "owner": "tg:1", "account": "10000001", "status": "active",
        "reconnected": False}
    reauth = by_type["connection.needs_reauth"]["data"]
    assert reauth["status"] == "needs_reauth" and "revoked" in reauth["reason"]
    assert by_type["connection.deleted"]["data"]["status"] == "deleted"
    assert len({r["id"] for r in delivered}) == 6

    # Never a token: none of the tokens the look-alike issued appears in a body, nor in a log.
    assert len(set(issued)) == 4, "two access and two refresh tokens"
    assert_no_secrets([r["body"] for r in receiver.received()], issued)
    assert_no_secrets([gateway.log_text()], [*issued, webhook_stack.secret])
    rows = outbox_rows(gateway.config, stack.clock)
    assert {r.state for r in rows} == {"delivered"}
    assert_no_secrets([r.body for r in rows], issued)


def _stored_tokens(stack: Stack) -> list[str]:
    """The connection's tokens as the vault holds them now."""
    from authgate.config import load_settings
    from authgate.runtime import Runtime

    runtime = Runtime.open(load_settings(stack.gateway.config), clock=stack.clock.clock())
    try:
        _, secrets = runtime.vault.store.get_with_secrets("hh", "tg:1")
        return [secrets.access_token, secrets.refresh_token or ""]
    finally:
        runtime.engine.dispose()
