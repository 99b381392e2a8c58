"""The Telegram Bot API look-alike, over real HTTP: the Bot API's documented shapes and refusals."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
import pytest

from authgate.devidp import DevIdpOptions
from authgate.devidp.options import DEV_BOT_TOKEN

from .conftest import RunningDevIdp

BOT = f"/telegram/bot{DEV_BOT_TOKEN}"
KEYBOARD = {"inline_keyboard": [[{"text": "Connect", "url": "https://auth.example.com/c?x=1"}]]}


@pytest.fixture
def idp(make_devidp: Callable[..., RunningDevIdp]) -> RunningDevIdp:
    return make_devidp(DevIdpOptions())


def send(client: httpx.Client, chat_id: object, text: str = "hello",
         markup: object = KEYBOARD) -> httpx.Response:
    return client.post(f"{BOT}/sendMessage",
                       json={"chat_id": chat_id, "text": text, "reply_markup": markup})


def test_get_me_and_send_message_answer_like_the_bot_api(idp: RunningDevIdp) -> None:
    client = idp.client()
    me = client.get(f"{BOT}/getMe").json()
    assert me["ok"] is True
    assert me["result"]["is_bot"] is True
    assert me["result"]["id"] == int(DEV_BOT_TOKEN.split(":")[0])
    assert me["result"]["username"] == "authgate_dev_bot"
    assert client.post(f"{BOT}/getme").json()["ok"] is True  # method names ignore case

    answer = send(client, 12345, "Connect again, please")
    assert answer.status_code == 200
    result = answer.json()["result"]
    assert result["chat"] == {"id": 12345, "type": "private"}
    assert result["text"] == "Connect again, please"
    assert result["reply_markup"] == KEYBOARD
    assert result["from"]["username"] == "authgate_dev_bot"
    # A form with reply_markup as JSON text, and a chat id given as a string, work as well.
    form = client.post(f"{BOT}/sendMessage", data={
        "chat_id": "12345", "text": "second", "reply_markup": json.dumps(KEYBOARD)})
    assert form.json()["result"]["message_id"] == result["message_id"] + 1

    recorded = idp.control("/_devidp/telegram/messages?chat_id=12345")
    assert [m["text"] for m in recorded] == ["Connect again, please", "second"]
    assert recorded[0]["inline_keyboard"] == KEYBOARD["inline_keyboard"]
    assert idp.control("/_devidp/telegram/messages?chat_id=999") == []

    # The chat page shows the user's view: the text and the button as a link.
    page = client.get("/telegram/chats/12345")
    assert page.status_code == 200
    assert "Connect again, please" in page.text
    assert 'href="https://auth.example.com/c?x=1"' in page.text
    assert "chats/12345" in client.get("/telegram/chats").text


def test_wrong_token_unknown_method_and_bad_input(idp: RunningDevIdp) -> None:
    client = idp.client()
    wrong = client.post("/telegram/bot7000000001:AAwrong-token-000000000000000/getMe")
    assert wrong.status_code == 401
    assert wrong.json() == {"ok": False, "error_code": 401, "description": "Unauthorized"}
    assert client.post(f"{BOT}/sendPigeon").json()["error_code"] == 404
    cases = [
        (send(client, None), "Bad Request: chat_id is empty"),
        (send(client, 1, text=""), "Bad Request: message text is empty"),
        (send(client, 1, text="x" * 4097), "Bad Request: message is too long"),
        (send(client, 1, markup={"inline_keyboard": "no"}),
         "Bad Request: can't parse reply keyboard markup JSON object"),
        (send(client, 1, markup={"inline_keyboard": [[{"text": "x", "url": "javascript:1"}]]}),
         "Bad Request: inline keyboard button URL is invalid"),
        (client.post(f"{BOT}/sendMessage", content=b"{", headers={
            "Content-Type": "application/json"}), "Bad Request: can't parse JSON request body"),
    ]
    for answer, description in cases:
        assert answer.status_code == 400
        assert answer.json() == {"ok": False, "error_code": 400, "description": description}
    assert idp.control("/_devidp/telegram/stats")["sent"] == 0


def test_flood_control_answers_429_with_retry_after_until_its_time_has_passed(
        idp: RunningDevIdp) -> None:
    client = idp.client()
    idp.control("/_devidp/telegram/chat", {"chat_id": 7, "mode": "flood", "retry_after": 30})
    refused = send(client, 7)
    assert refused.status_code == 429
    assert refused.json() == {"ok": False, "error_code": 429,
                              "description": "Too Many Requests: retry after 30",
                              "parameters": {"retry_after": 30}}
    assert send(client, 8).status_code == 200  # other chats are not held back
    idp.clock.advance(20)
    assert send(client, 7).json()["parameters"]["retry_after"] == 10
    idp.clock.advance(10)
    assert send(client, 7).status_code == 200
    stats = idp.control("/_devidp/telegram/stats")
    assert stats["attempts"] == {"7": 3, "8": 1}
    assert stats["refused"] == {"flood": 2}
    assert stats["sent"] == 2


def test_a_user_who_blocked_the_bot_gets_403_until_cleared(idp: RunningDevIdp) -> None:
    client = idp.client()
    idp.control("/_devidp/telegram/chat", {"chat_id": 5, "mode": "blocked"})
    for _ in range(2):
        blocked = send(client, 5)
        assert blocked.status_code == 403
        assert blocked.json() == {"ok": False, "error_code": 403,
                                  "description": "Forbidden: bot was blocked by the user"}
    assert "refusing" in client.get("/telegram/chats").text
    idp.control("/_devidp/telegram/chat", {"chat_id": 5, "mode": None})
    assert send(client, 5).status_code == 200
    bad = client.post("/_devidp/telegram/chat", json={"chat_id": 5, "mode": "asleep"})
    assert bad.status_code == 400
    idp.control("/_devidp/telegram/reset", {})
    assert idp.control("/_devidp/telegram/stats") == {"sent": 0, "attempts": {}, "refused": {}}
