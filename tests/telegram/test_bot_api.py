"""Sending through the Bot API, against the devidp's Telegram look-alike over real HTTP: each
kind of answer becomes the outcome it means for the message."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from authgate.devidp.options import DEV_BOT_TOKEN
from authgate.telegram.bot_api import BotApi, classify
from authgate.telegram.message import ChatMessage, InlineButton
from tests.harness import ClockFile, DevIdp, bound, free_port

pytestmark = pytest.mark.anyio

MESSAGE = ChatMessage(chat_id=42, text="connect again",
                      buttons=(InlineButton("Connect", "https://auth.example.com/c?session=s"),))


@pytest.fixture
def devidp(tmp_path: Path) -> Iterator[DevIdp]:
    idp = DevIdp(tmp_path, gateway_url=f"http://127.0.0.1:{free_port()}",
                 clock=ClockFile(tmp_path / "clock"))
    idp.start()
    try:
        yield idp
    finally:
        idp.stop()


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=bound(10)) as client:
        yield client


async def test_send_and_get_me(devidp: DevIdp, http: httpx.AsyncClient) -> None:
    bot = BotApi(http, f"{devidp.url}/telegram/", DEV_BOT_TOKEN)
    identity = await bot.get_me()
    assert identity is not None and identity.display_name == "@authgate_dev_bot"
    sent = await bot.send_message(MESSAGE)
    assert sent.kind == "delivered" and sent.message_id == 1
    [got] = devidp.control("telegram/messages?chat_id=42")
    assert got["text"] == "connect again"
    assert got["inline_keyboard"] == [[{"text": "Connect",
                                        "url": "https://auth.example.com/c?session=s"}]]
    assert DEV_BOT_TOKEN not in repr(bot)


async def test_flood_blocked_wrong_token_and_no_answer(devidp: DevIdp,
                                                       http: httpx.AsyncClient) -> None:
    bot = BotApi(http, f"{devidp.url}/telegram", DEV_BOT_TOKEN)
    devidp.control("telegram/chat", {"chat_id": 42, "mode": "flood", "retry_after": 17})
    flood = await bot.send_message(MESSAGE)
    assert (flood.kind, flood.retry_after, flood.status) == ("retry", 17.0, 429)
    devidp.control("telegram/chat", {"chat_id": 42, "mode": "blocked"})
    blocked = await bot.send_message(MESSAGE)
    assert (blocked.kind, blocked.status) == ("permanent", 403)
    assert blocked.detail == "Forbidden: bot was blocked by the user"

    wrong = BotApi(http, f"{devidp.url}/telegram", "7000000001:AAwrong-token-0000000000000000")
    refused = await wrong.send_message(MESSAGE)
    assert refused.kind == "retry" and "bot token was refused" in refused.detail
    assert await wrong.get_me() is None

    port = free_port()  # nothing listens there
    gone = await BotApi(http, f"http://127.0.0.1:{port}", DEV_BOT_TOKEN).send_message(MESSAGE)
    assert gone.kind == "retry" and gone.detail == "network: ConnectError"
    for outcome in (flood, blocked, refused, gone):
        assert DEV_BOT_TOKEN not in outcome.detail and "/bot" not in outcome.detail


def test_classification_of_other_answers() -> None:
    assert classify(400, {"ok": False, "description": "Bad Request: chat not found"}).kind \
        == "permanent"
    assert classify(502, {}).kind == "retry"
    assert classify(200, {"ok": False}).kind == "retry"
    assert classify(429, {"ok": False}).retry_after is None
    assert classify(429, {"parameters": {"retry_after": "soon"}}).retry_after is None
