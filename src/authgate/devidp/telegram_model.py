"""State of the Telegram Bot API look-alike: what the bot sent to each chat, and the chats that
refuse it (flood control, a user who blocked the bot). No HTTP here; ``telegram.py`` is the face.

The answers follow the Bot API's documented shapes: ``{"ok": false, "error_code": 429,
"description": "Too Many Requests: retry after N", "parameters": {"retry_after": N}}`` and 403
``Forbidden: bot was blocked by the user``.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Literal

from authgate.devidp.options import Clock

MAX_TEXT = 4096  # characters of a message text, as the Bot API documents
FaultMode = Literal["flood", "blocked"]


class BotApiError(Exception):
    """A refusal, answered as ``{"ok": false, "error_code", "description"[, "parameters"]}``."""

    def __init__(self, status: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.retry_after = retry_after

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"ok": False, "error_code": self.status,
                                "description": self.description}
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        return body


@dataclass(frozen=True)
class InlineButton:
    text: str
    url: str


@dataclass(frozen=True)
class SentMessage:
    message_id: int
    chat_id: int
    text: str
    date: int
    keyboard: tuple[tuple[InlineButton, ...], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"message_id": self.message_id, "chat_id": self.chat_id, "text": self.text,
                "date": self.date,
                "inline_keyboard": [[{"text": b.text, "url": b.url} for b in row]
                                    for row in self.keyboard]}


@dataclass
class ChatFault:
    mode: FaultMode
    until: float | None = None  # flood control: refused until this moment


@dataclass
class TelegramModel:
    clock: Clock
    messages: list[SentMessage] = field(default_factory=list)
    faults: dict[int, ChatFault] = field(default_factory=dict)
    # Every sendMessage that reached a chat's check, refused ones included, per chat.
    attempts: Counter[int] = field(default_factory=Counter)
    refused: Counter[str] = field(default_factory=Counter)

    def send(self, chat_id: int, text: str,
             keyboard: tuple[tuple[InlineButton, ...], ...]) -> SentMessage:
        self.attempts[chat_id] += 1
        fault = self.faults.get(chat_id)
        if fault is not None and fault.mode == "blocked":
            self.refused["blocked"] += 1
            raise BotApiError(403, "Forbidden: bot was blocked by the user")
        if fault is not None and fault.until is not None:
            left = fault.until - self.clock()
            if left > 0:
                self.refused["flood"] += 1
                wait = max(1, math.ceil(left))
                raise BotApiError(429, f"Too Many Requests: retry after {wait}", retry_after=wait)
            del self.faults[chat_id]  # the flood wait is over
        message = SentMessage(message_id=len(self.messages) + 1, chat_id=chat_id, text=text,
                              date=int(self.clock()), keyboard=keyboard)
        self.messages.append(message)
        return message

    def flood(self, chat_id: int, seconds: float) -> None:
        self.faults[chat_id] = ChatFault("flood", until=self.clock() + seconds)

    def block(self, chat_id: int) -> None:
        self.faults[chat_id] = ChatFault("blocked")

    def clear(self, chat_id: int) -> None:
        self.faults.pop(chat_id, None)

    def chat(self, chat_id: int) -> list[SentMessage]:
        return [m for m in self.messages if m.chat_id == chat_id]

    def chat_ids(self) -> list[int]:
        return sorted({m.chat_id for m in self.messages} | set(self.attempts))

    def reset(self) -> None:
        self.messages.clear()
        self.faults.clear()
        self.attempts.clear()
        self.refused.clear()


def parse_chat_id(value: object) -> int:
    """A chat id as the Bot API takes it: an integer, or a string of one."""
    if isinstance(value, bool):
        raise BotApiError(400, "Bad Request: chat_id is empty")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    if value in (None, ""):
        raise BotApiError(400, "Bad Request: chat_id is empty")
    raise BotApiError(400, "Bad Request: chat not found")


def parse_text(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise BotApiError(400, "Bad Request: message text is empty")
    if len(value) > MAX_TEXT:
        raise BotApiError(400, "Bad Request: message is too long")
    return value


def parse_inline_keyboard(markup: object) -> tuple[tuple[InlineButton, ...], ...]:
    """``reply_markup``'s ``inline_keyboard``: rows of ``{"text", "url"}`` buttons (the only
    kind of button this look-alike renders)."""
    if markup is None:
        return ()
    rows = markup.get("inline_keyboard") if isinstance(markup, dict) else None
    if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
        raise BotApiError(400, "Bad Request: can't parse reply keyboard markup JSON object")
    parsed = []
    for row in rows:
        buttons = []
        for button in row:
            if not isinstance(button, dict) or not isinstance(button.get("text"), str) \
                    or not button["text"]:
                raise BotApiError(400, "Bad Request: can't parse inline keyboard button: "
                                       "Text buttons are unallowed in the inline keyboard")
            url = button.get("url")
            if not isinstance(url, str) or not url.startswith(("http://", "https://", "tg://")):
                raise BotApiError(400, "Bad Request: inline keyboard button URL is invalid")
            buttons.append(InlineButton(button["text"], url))
        parsed.append(tuple(buttons))
    return tuple(parsed)
