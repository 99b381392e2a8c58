"""What the outbox carries, and the two protocols a delivery channel implements.

Plain module: no web, storage or CLI imports (the ``Session`` in ``Router`` is only a type).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, Protocol

if TYPE_CHECKING:
    from sqlalchemy.orm import Session


@dataclass(frozen=True)
class Event:
    """Something that happened, before it is addressed to anyone.

    ``ordering_key`` groups events that must reach a recipient in order (one connection's, one
    user's); ``data`` must never hold a secret: it is sent as it is.
    """

    type: str
    data: Mapping[str, Any]
    ordering_key: str
    at: datetime

    def body(self) -> str:
        """The JSON every recipient gets, Standard Webhooks style."""
        return json.dumps({"type": self.type, "timestamp": self.at.isoformat(),
                           "data": dict(self.data)}, separators=(",", ":"), sort_keys=True)


@dataclass(frozen=True)
class Recipient:
    channel: str  # "webhook", "telegram", …
    destination: str  # what the channel resolves: a webhook endpoint id, a chat id, …


@dataclass(frozen=True)
class Message:
    """One event for one recipient, as the worker hands it to the channel."""

    message_id: str  # stable across attempts: the receiver's de-duplication key
    channel: str
    destination: str
    ordering_key: str
    event_type: str
    body: str
    attempts: int  # failed attempts so far
    created_at: datetime

    @property
    def payload(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.body)
        return parsed


DeliveryKind = Literal["delivered", "retry", "failed"]


@dataclass(frozen=True)
class DeliveryResult:
    """What one attempt came to.

    * ``delivered``: done;
    * ``retry``: try again later, after at least ``retry_after`` seconds when the receiver said;
    * ``failed``: never deliverable (the endpoint is gone, the user blocked the bot): dead now.

    ``answer`` goes to the delivery log and the log line: short, and never a secret.
    """

    kind: DeliveryKind
    answer: str = ""
    retry_after: float | None = field(default=None)

    @classmethod
    def delivered(cls, answer: str = "") -> DeliveryResult:
        return cls("delivered", answer)

    @classmethod
    def retry(cls, answer: str, retry_after: float | None = None) -> DeliveryResult:
        return cls("retry", answer, retry_after)

    @classmethod
    def failed(cls, answer: str) -> DeliveryResult:
        return cls("failed", answer)


class Channel(Protocol):
    """How messages of one channel travel (an HTTP POST, a Telegram message)."""

    async def deliver(self, message: Message) -> DeliveryResult:
        """One attempt. Exceptions count as ``retry`` (and are logged by the worker)."""
        ...


class Router(Protocol):
    """Who gets an event on one channel; called inside the change's own transaction."""

    def recipients(self, s: Session, event: Event) -> Iterable[Recipient]:
        ...
