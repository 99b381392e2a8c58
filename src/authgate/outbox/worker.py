"""The delivery worker: claims due outbox messages and hands each to its channel.

Runs inside ``authgate serve`` (started by the app's lifespan, like the refresh engine). Any
number of replicas may run it against one database: the claim in ``Outbox.claim`` gives each
message to one of them. Delivery is at-least-once: a replica killed after the receiver answered
but before the outcome was stored delivers again, with the same ``message_id``, once its lease
has run out.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
from collections.abc import Mapping
from datetime import timedelta

import anyio

from authgate.clock import Clock
from authgate.metrics import DELIVERIES
from authgate.outbox.message import Channel, DeliveryResult, Message
from authgate.outbox.store import Outbox

log = logging.getLogger("authgate.outbox")

# Messages claimed per pass, and delivered at once.
BATCH = 100
CONCURRENCY = 16


def replica_name() -> str:
    """Who delivered a message, for the delivery log: host, process, and a random tag."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


class DeliveryWorker:
    def __init__(self, outbox: Outbox, channels: Mapping[str, Channel], clock: Clock, *,
                 lease: timedelta, name: str | None = None) -> None:
        """``lease``: how long a claim holds; longer than one attempt can take (the HTTP
        timeout), or another replica may deliver the same message meanwhile."""
        self.outbox = outbox
        self.channels = dict(channels)
        self.clock = clock
        self.lease = lease
        self.name = name or replica_name()
        self._wake = anyio.Event()

    def wake(self) -> None:
        """Look for due messages now rather than at the next poll (after a local change)."""
        self._wake.set()

    async def deliver_due(self) -> int:
        """One pass; returns how many messages were attempted."""
        claimed = await anyio.to_thread.run_sync(lambda: self.outbox.claim(
            now=self.clock.now(), lease=self.lease, limit=BATCH, claimer=self.name))
        if not claimed:
            return 0
        limiter = anyio.Semaphore(CONCURRENCY)

        async def one(message: Message) -> None:
            async with limiter:
                await self._attempt(message)

        async with anyio.create_task_group() as tg:
            for message in claimed:
                tg.start_soon(one, message)
        return len(claimed)

    async def _attempt(self, message: Message) -> None:
        channel = self.channels.get(message.channel)
        if channel is None:
            result = DeliveryResult.retry(f"no {message.channel!r} channel in this process")
        else:
            try:
                result = await channel.deliver(message)
            except Exception as exc:  # a channel's bug must not stop the worker
                log.exception("delivery raised channel=%s id=%s", message.channel,
                              message.message_id)
                result = DeliveryResult.retry(f"error: {type(exc).__name__}")
        now = self.clock.now()
        state = await anyio.to_thread.run_sync(lambda: self.outbox.finish(
            message, result, now=now, claimer=self.name))
        outcome = result.kind if state != "dead" else "dead"
        DELIVERIES.labels(message.channel, outcome).inc()
        log.info("delivery channel=%s destination=%s id=%s event=%s attempt=%d outcome=%s "
                 "answer=%r", message.channel, message.destination, message.message_id,
                 message.event_type, message.attempts + 1, outcome, result.answer)

    async def run(self, *, idle: float = 0.5) -> None:
        """Deliver until cancelled; polls every ``idle`` seconds when there is nothing due."""
        while True:
            attempted = 0
            try:
                attempted = await self.deliver_due()
            except Exception:
                # The worker must outlive a database hiccup; the next pass tries again.
                log.exception("delivery pass failed")
            if attempted:
                continue
            with anyio.move_on_after(idle):
                await self._wake.wait()
            self._wake = anyio.Event()
