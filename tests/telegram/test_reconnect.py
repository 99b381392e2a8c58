"""End to end on real processes: a ``tg:<chat_id>`` owner's hh connection dies at the provider,
and the bot (the devidp's Telegram look-alike) gets one message per incident, in the owner's
language, with a connect link that works; Telegram's 429 and 403 are honoured; neither the bot
token nor a link reaches authgate's log."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from authgate.devidp.options import DEV_BOT_TOKEN
from authgate.store.db import database_url, make_engine, make_sessionmaker
from authgate.store.models import OutboxMessage
from tests.harness import approve_hh, assert_no_secrets, bound, open_connect_link, wait_until
from tests.stacks import HH_LIFETIME, Stack

IVAN, ANNA = "10000001", "10000002"


def telegram_config(tmp: Path, devidp_url: str, **settings: str) -> str:
    """A second hh provider (``hh2``, the same look-alike) and ``[telegram]`` at the look-alike."""
    token_file = tmp / "bot.token"
    token_file.write_text(DEV_BOT_TOKEN + "\n")
    lines = ["", "[providers.hh2]", 'kind = "hh"', 'display_name = "HeadHunter two"',
             'client_id = "DEVHHCLIENT"', 'client_secret = "dev-hh-secret"',
             'user_agent = "AuthgateTests/1.0 (tests@example.com)"',
             f'authorize_url = "{devidp_url}/hh/oauth/authorize"',
             f'token_url = "{devidp_url}/hh/token"', f'api_base = "{devidp_url}/hh"',
             "[telegram]", f'bot_token_file = "{token_file}"',
             f'api_base = "{devidp_url}/telegram"']
    lines += [f'{k} = "{v}"' for k, v in {"chat_interval": "0s", **settings}.items()]
    return "\n".join(lines) + "\n"


@pytest.fixture
def telegram_stack(stack_factory: Callable[..., Stack], tmp_path: Path) -> Callable[..., Stack]:
    def make(access_lifetime: float = HH_LIFETIME, **settings: str) -> Stack:
        stack = stack_factory(start_gateway=False, access_lifetime=access_lifetime)
        with stack.gateway.config.open("a") as fh:
            fh.write(telegram_config(tmp_path, stack.devidp.url, **settings))
        stack.gateway.start()
        stack.clock.freeze()  # retry times are read on this clock; the test's pace adds none
        return stack

    return make


def connect(stack: Stack, owner: str, *, provider: str = "hh", account: str = IVAN,
            language: str | None = None) -> httpx.Response:
    """A bot's link, opened and confirmed by its user, who signs in at the look-alike."""
    api = httpx.post(f"{stack.gateway.url}/api/v1/connect-sessions", headers=stack.auth,
                     json={"provider": provider, "owner": owner}, timeout=bound(30))
    assert api.status_code == 201, api.text
    return follow_link(api.json()["url"], account=account, language=language)


def follow_link(url: str, *, account: str = IVAN, language: str | None = None) -> httpx.Response:
    headers = {"Accept-Language": language} if language else {}
    with httpx.Client(timeout=bound(30), headers=headers) as browser:
        start = open_connect_link(browser, url)
        back = approve_hh(browser, start.headers["location"], account)
        assert back.status_code in (302, 303), back.text
        done = browser.get(back.headers["location"], follow_redirects=True)
    assert done.status_code == 200, done.text
    return done


def kill_at_provider(stack: Stack, account: str = IVAN, lifetime: float = HH_LIFETIME) -> None:
    """Revoke the account's tokens at the look-alike and let the access tokens expire: the next
    refresh meets ``invalid_grant: token was revoked``."""
    stack.devidp.control("hh/revoke", {"account_id": account})
    stack.expire_tokens(lifetime)


def token_status(stack: Stack, owner: str, provider: str = "hh") -> int:
    return httpx.get(f"{stack.gateway.url}/api/v1/connections/{provider}/{owner}/token",
                     headers=stack.auth, timeout=bound(60)).status_code


def chat(stack: Stack, chat_id: int) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = stack.devidp.control(f"telegram/messages?chat_id={chat_id}")
    return messages


def wait_messages(stack: Stack, chat_id: int, count: int) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = wait_until(
        lambda: (m if len(m := chat(stack, chat_id)) >= count else None),
        f"{count} message(s) in chat {chat_id}", idle_bound=20)
    return found


def attempts(stack: Stack, chat_id: int) -> int:
    return int(stack.devidp.control("telegram/stats")["attempts"].get(str(chat_id), 0))


def telegram_rows(stack: Stack, chat_id: int) -> list[OutboxMessage]:
    engine = make_engine(database_url("", stack.gateway.data_dir))
    try:
        with make_sessionmaker(engine)() as s:
            return list(s.scalars(select(OutboxMessage).where(
                OutboxMessage.channel == "telegram",
                OutboxMessage.destination == str(chat_id)).order_by(OutboxMessage.seq)))
    finally:
        engine.dispose()


def wait_row(stack: Stack, chat_id: int, what: str,
             ready: Callable[[OutboxMessage], bool], index: int | None = -1) -> OutboxMessage:
    """The chat's row at ``index`` once it is ``ready``; index None: any row that is."""
    def found() -> OutboxMessage | None:
        rows = telegram_rows(stack, chat_id)
        if index is None:
            return next((row for row in rows if ready(row)), None)
        return rows[index] if rows and len(rows) > index >= -1 and ready(rows[index]) else None

    row: OutboxMessage = wait_until(found, what, idle_bound=20)
    return row


def button_url(message: dict[str, Any]) -> str:
    [[button]] = message["inline_keyboard"]
    url: str = button["url"]
    return url


def test_one_message_per_incident_with_a_link_that_works(telegram_stack) -> None:
    stack = telegram_stack()
    connect(stack, "tg:1001")
    assert chat(stack, 1001) == []  # connecting sends nothing
    kill_at_provider(stack)
    for _ in range(4):  # the bot asks again and again: still one incident
        assert token_status(stack, "tg:1001") == 409
    [message] = wait_messages(stack, 1001, 1)
    assert message["text"].startswith("Your HeadHunter (dev) account (Ivan Petrov) is no longer "
                                      "connected: the access was revoked.")
    url = button_url(message)
    assert url.startswith(f"{stack.gateway.url}/connect/hh?session=")
    assert url not in message["text"]
    row = wait_row(stack, 1001, "the message recorded as delivered",
                   lambda r: r.state == "delivered")
    assert row.attempts == 1 and "session" not in row.body and url not in row.body
    for _ in range(3):
        assert token_status(stack, "tg:1001") == 409
    assert len(telegram_rows(stack, 1001)) == 1

    # The button's link works: its page names the bot (from getMe), and through the look-alike's
    # sign-in it leads back to a working connection.
    with httpx.Client(timeout=bound(30)) as browser:
        assert "@authgate_dev_bot" in browser.get(url).text
    done = follow_link(url)
    assert "connected" in done.text.lower()
    assert token_status(stack, "tg:1001") == 200
    # The link was one-time.
    with httpx.Client(timeout=bound(30)) as browser:
        assert browser.get(url).status_code >= 400

    # A new incident (dead again) is a new message, with a new link.
    kill_at_provider(stack)
    assert token_status(stack, "tg:1001") == 409
    second = wait_messages(stack, 1001, 2)[1]
    assert button_url(second) != url
    assert len(telegram_rows(stack, 1001)) == 2

    log = stack.gateway.log_text()
    assert "telegram reconnect message sent chat=1001" in log
    secrets = [DEV_BOT_TOKEN, DEV_BOT_TOKEN.split(":")[1], url, button_url(second)]
    secrets += [u.split("session=")[1] for u in (url, button_url(second))]
    assert_no_secrets([log], secrets)


def test_russian_text_for_an_owner_who_connected_in_russian(telegram_stack) -> None:
    stack = telegram_stack()
    connect(stack, "tg:1002", language="ru-RU,ru;q=0.9")
    connect(stack, "tg:1003", account=ANNA)  # no language named: the default, English
    kill_at_provider(stack, IVAN)
    kill_at_provider(stack, ANNA)
    assert token_status(stack, "tg:1002") == 409
    assert token_status(stack, "tg:1003") == 409
    [russian] = wait_messages(stack, 1002, 1)
    assert russian["text"].startswith("Ваш аккаунт HeadHunter (dev) (Ivan Petrov) больше не "
                                      "подключён: доступ был отозван.")
    assert "Ссылка одноразовая и действует 1 день." in russian["text"]
    assert russian["inline_keyboard"][0][0]["text"] == "Подключить HeadHunter (dev) снова"
    [english] = wait_messages(stack, 1003, 1)
    assert english["text"].startswith("Your HeadHunter (dev) account (Anna Smirnova)")


def test_default_language_from_config(telegram_stack) -> None:
    stack = telegram_stack(default_language="ru")
    connect(stack, "tg:1010")
    kill_at_provider(stack)
    assert token_status(stack, "tg:1010") == 409
    [message] = wait_messages(stack, 1010, 1)
    assert message["text"].startswith("Ваш аккаунт")


def test_flood_control_retry_after_is_honoured(telegram_stack) -> None:
    lifetime = 60  # short-lived tokens, so that an incident moves the clock by a minute only
    stack = telegram_stack(access_lifetime=lifetime)
    connect(stack, "tg:1004")
    connect(stack, "tg:1005", account=ANNA)
    # Telegram's flood wait has 600 s left when the message is first tried.
    stack.devidp.control("telegram/chat", {"chat_id": 1004, "mode": "flood",
                                           "retry_after": 600 + lifetime + 5})
    kill_at_provider(stack, IVAN, lifetime)
    assert token_status(stack, "tg:1004") == 409
    row = wait_row(stack, 1004, "the 429 recorded", lambda r: r.attempts == 1)
    assert row.state == "pending"
    assert row.last_answer == "429 Too Many Requests: retry after 600"
    assert row.last_attempt_at is not None
    assert (row.next_attempt_at - row.last_attempt_at).total_seconds() >= 600
    assert attempts(stack, 1004) == 1

    stack.clock.advance(300)
    # Another chat's incident, sent after the clock moved (to 365 s of the 600): proof that the
    # worker has looked at the queue since, so the first message was held back, not overlooked.
    kill_at_provider(stack, ANNA, lifetime)
    assert token_status(stack, "tg:1005") == 409
    wait_messages(stack, 1005, 1)
    assert attempts(stack, 1004) == 1 and chat(stack, 1004) == []

    stack.clock.advance(600 - 365)  # the wait is over
    [message] = wait_messages(stack, 1004, 1)
    assert message["text"].startswith("Your HeadHunter (dev) account")
    assert attempts(stack, 1004) == 2
    assert wait_row(stack, 1004, "delivered", lambda r: r.state == "delivered").attempts == 2


def test_a_chat_that_blocked_the_bot_is_not_tried_again(telegram_stack) -> None:
    stack = telegram_stack()
    connect(stack, "tg:1006")
    stack.devidp.control("telegram/chat", {"chat_id": 1006, "mode": "blocked"})
    kill_at_provider(stack)
    assert token_status(stack, "tg:1006") == 409
    row = wait_row(stack, 1006, "the message given up", lambda r: r.state == "dead")
    assert row.attempts == 1
    assert row.last_answer == "403 Forbidden: bot was blocked by the user"
    connect(stack, "tg:1007", account=ANNA)
    stack.clock.advance(3600)
    kill_at_provider(stack, ANNA)  # another chat's incident, after the clock moved
    assert token_status(stack, "tg:1007") == 409
    wait_messages(stack, 1007, 1)
    assert attempts(stack, 1006) == 1 and chat(stack, 1006) == []
    log = stack.gateway.log_text()
    assert re.search(r"telegram chat refuses the bot, not trying again chat=1006 provider=hh "
                     r"owner=tg:1006 status=403", log), log[-2000:]
    assert_no_secrets([log], [DEV_BOT_TOKEN])


def test_one_chat_gets_one_message_per_interval(telegram_stack) -> None:
    stack = telegram_stack(chat_interval="10m")
    connect(stack, "tg:1008", provider="hh")
    connect(stack, "tg:1008", provider="hh2")
    kill_at_provider(stack)  # both connections are Ivan's: two incidents at once
    assert token_status(stack, "tg:1008", "hh") == 409
    assert token_status(stack, "tg:1008", "hh2") == 409
    [first] = wait_messages(stack, 1008, 1)
    # Both incidents' messages are claimed together; either may win the chat's turn.
    held = wait_row(stack, 1008, "the second message held back",
                    lambda r: r.attempts == 1 and r.state == "pending", index=None)
    assert (held.last_answer or "").startswith("rate limited")
    assert held.last_attempt_at is not None
    assert (held.next_attempt_at - held.last_attempt_at).total_seconds() >= 590
    assert attempts(stack, 1008) == 1  # held back before Telegram was asked
    stack.clock.advance(600)
    second = wait_messages(stack, 1008, 2)[1]
    assert {first["text"].split(" account")[0], second["text"].split(" account")[0]} == {
        "Your HeadHunter (dev)", "Your HeadHunter two"}


def test_a_message_whose_incident_is_over_is_not_sent(telegram_stack) -> None:
    stack = telegram_stack()
    connect(stack, "tg:1009")
    kill_at_provider(stack)
    stack.devidp.control("telegram/chat", {"chat_id": 1009, "mode": "flood", "retry_after": 60})
    assert token_status(stack, "tg:1009") == 409
    wait_row(stack, 1009, "the 429 recorded", lambda r: r.attempts == 1)
    connect(stack, "tg:1009")  # the user came back by another way (the bot's own link)
    assert token_status(stack, "tg:1009") == 200
    stack.clock.advance(61)
    row = wait_row(stack, 1009, "the message settled", lambda r: r.state == "delivered")
    assert row.last_answer == "not sent: the connection works again"
    assert chat(stack, 1009) == [] and attempts(stack, 1009) == 1
