from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.harness import free_port
from tests.stacks import Stack, make_stack
from tests.webhooks.harness import ReceiverProcess, new_secret, webhook_config

ALL_EVENTS = ["*", "connection.refreshed"]


@dataclass
class WebhookStack:
    stack: Stack
    receiver: ReceiverProcess
    secret: str
    tmp: Path


@pytest.fixture
def webhook_stack(tmp_path: Path) -> Iterator[WebhookStack]:
    """A devidp + gateway pair with one [[webhooks]] endpoint (every event, the opt-in
    connection.refreshed too) pointing at a verifying receiver; the clock is frozen, so that
    retries happen only when the test moves it."""
    with ExitStack() as cleanup:
        secret = new_secret()
        secret_file = tmp_path / "webhook.secret"
        secret_file.write_text(secret + "\n")
        port = free_port()
        stack = make_stack(tmp_path, cleanup, start_gateway=False, extra=webhook_config(
            f"http://127.0.0.1:{port}/hook", secret_file, ALL_EVENTS))
        stack.clock.freeze()
        receiver = ReceiverProcess(tmp_path, secret, stack.clock, port=port)
        cleanup.callback(receiver.stop)
        receiver.start()
        stack.gateway.start()
        yield WebhookStack(stack, receiver, secret, tmp_path)
