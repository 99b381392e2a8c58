"""Telegram as a channel of the outbox: who gets a message (``TelegramRouter``) and how it
travels (``TelegramChannel``).

The router runs inside the transaction that turns a connection ``needs_reauth`` — which
publishes ``connection.needs_reauth`` only when the connection was not already in that state, so
there is one message per incident however often the bot asks for the token meanwhile. The
queued message is the event itself (provider, owner, reason: no link); the channel builds the
chat message, with its fresh connect link, at each attempt. Retries, backoff and the 24 h window
are the outbox's, like a webhook's.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from authgate.outbox.events import CONNECTION_NEEDS_REAUTH
from authgate.outbox.message import DeliveryResult, Event, Message, Recipient
from authgate.telegram.message import chat_id_of
from authgate.telegram.reconnect import Incident, ReconnectNotifier

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

TELEGRAM_CHANNEL = "telegram"


class TelegramRouter:
    """A ``tg:<chat_id>`` owner's connection that needs its owner: a message to that chat."""

    def recipients(self, s: Session, event: Event) -> Iterable[Recipient]:
        if event.type != CONNECTION_NEEDS_REAUTH:
            return []
        chat_id = chat_id_of(str(event.data.get("owner", "")))
        return [] if chat_id is None else [Recipient(TELEGRAM_CHANNEL, str(chat_id))]


class TelegramChannel:
    def __init__(self, notifier: ReconnectNotifier) -> None:
        self.notifier = notifier

    async def deliver(self, message: Message) -> DeliveryResult:
        data = message.payload.get("data")
        provider = data.get("provider") if isinstance(data, dict) else None
        owner = data.get("owner") if isinstance(data, dict) else None
        chat_id = chat_id_of(owner) if isinstance(owner, str) else None
        if not isinstance(provider, str) or owner is None or chat_id is None \
                or str(chat_id) != message.destination:
            return DeliveryResult.failed("not a reconnect message for this chat")
        outcome = await self.notifier.notify(Incident(chat_id, provider, str(owner)))
        if outcome.kind == "retry":
            return DeliveryResult.retry(outcome.detail, outcome.retry_after)
        if outcome.kind == "refused":
            return DeliveryResult.failed(outcome.detail)
        # Sent, or no longer needed (the incident ended before its message went out).
        return DeliveryResult.delivered(outcome.detail)
