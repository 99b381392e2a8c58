"""Asking a ``tg:<chat_id>`` owner to connect again: one attempt at one incident's message.

Everything the message needs is looked up when it is sent, not when the incident was queued:
whether the connection still needs its owner (a message about an incident that is over is not
sent), the chat's turn in the rate limit, the chat's language, and above all a **fresh one-time
connect link**, minted here and never stored with the queued message nor logged.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import anyio

from authgate.clock import Clock
from authgate.config import TelegramSettings
from authgate.providers.base import Provider
from authgate.telegram.bot_api import BotApi, BotIdentity, SendOutcome
from authgate.telegram.chats import TelegramChats
from authgate.telegram.message import language_of, reconnect_message
from authgate.vault.connections import NEEDS_REAUTH, ConnectionStore
from authgate.vault.links import ConnectLinks, connect_url

log = logging.getLogger("authgate.telegram")

# What a connect link's confirmation page names as the one asking, when getMe does not answer.
FALLBACK_BOT_NAME = "Telegram"


@dataclass(frozen=True)
class Incident:
    """A connection of a ``tg:`` owner that turned ``needs_reauth``."""

    chat_id: int
    provider: str
    owner: str


@dataclass(frozen=True)
class NotifyOutcome:
    """``sent``, ``retry`` (after ``retry_after`` s when known), ``refused`` (for good), or
    ``not_needed`` (the incident is over: connected again, removed); ``detail`` is safe to log."""

    kind: Literal["sent", "retry", "refused", "not_needed"]
    detail: str = ""
    retry_after: float | None = None


class ReconnectNotifier:
    def __init__(self, settings: TelegramSettings, *, bot: BotApi, links: ConnectLinks,
                 chats: TelegramChats, connections: ConnectionStore,
                 providers: Mapping[str, Provider], public_url: str, clock: Clock) -> None:
        self.settings = settings
        self.bot = bot
        self.links = links
        self.chats = chats
        self.connections = connections
        self.providers = providers
        self.public_url = public_url
        self.clock = clock
        self._identity: BotIdentity | None = None

    async def notify(self, incident: Incident) -> NotifyOutcome:
        conn = await anyio.to_thread.run_sync(self.connections.get, incident.provider,
                                              incident.owner)
        if conn is None:
            return NotifyOutcome("not_needed", "not sent: the connection was removed")
        if conn.status != NEEDS_REAUTH:
            return NotifyOutcome("not_needed", "not sent: the connection works again")
        provider = self.providers.get(conn.provider)
        if provider is None:
            return NotifyOutcome("not_needed", "not sent: the provider is no longer configured")
        now = self.clock.now()
        interval = self.settings.chat_interval
        wait = await anyio.to_thread.run_sync(lambda: self.chats.take_turn(
            incident.chat_id, now=now, interval=interval))
        if wait is not None:
            return NotifyOutcome("retry", f"rate limited: one message per chat every "
                                          f"{interval.total_seconds():.0f} s", retry_after=wait)
        language = language_of(
            await anyio.to_thread.run_sync(self.chats.language, incident.chat_id),
            self.settings.default_language)
        bot_name = await self._bot_name()
        link = await anyio.to_thread.run_sync(lambda: self.links.create(
            conn.provider, conn.owner, now=now, lifetime=self.settings.link_lifetime,
            requested_by=bot_name))
        message = reconnect_message(
            chat_id=incident.chat_id, language=language, provider=provider.display_name,
            account=conn.account_name, reason=conn.last_error,
            link_url=connect_url(self.public_url, link), link_lifetime=self.settings.link_lifetime)
        return self._outcome(incident, await self.bot.send_message(message), language)

    def _outcome(self, incident: Incident, sent: SendOutcome, language: str) -> NotifyOutcome:
        if sent.kind == "delivered":
            log.info("telegram reconnect message sent chat=%s provider=%s owner=%s lang=%s "
                     "message_id=%s", incident.chat_id, incident.provider, incident.owner,
                     language, sent.message_id)
            return NotifyOutcome("sent", f"sent, message {sent.message_id}")
        if sent.kind == "permanent":
            log.warning("telegram chat refuses the bot, not trying again chat=%s provider=%s "
                        "owner=%s status=%s answer=%r", incident.chat_id, incident.provider,
                        incident.owner, sent.status, sent.detail)
            return NotifyOutcome("refused", _answer(sent))
        return NotifyOutcome("retry", _answer(sent), retry_after=sent.retry_after)

    async def _bot_name(self) -> str:
        """``@username`` from getMe, asked once (until it answers) per process."""
        if self._identity is None:
            self._identity = await self.bot.get_me()
        return self._identity.display_name if self._identity else FALLBACK_BOT_NAME


def _answer(sent: SendOutcome) -> str:
    return f"{sent.status} {sent.detail}" if sent.status is not None else sent.detail
