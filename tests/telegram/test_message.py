"""The reconnect message: language, reason, button, and who counts as a Telegram owner."""

from __future__ import annotations

from datetime import timedelta

import pytest

from authgate.telegram.message import (
    chat_id_of,
    explain,
    language_of,
    reconnect_message,
    say_duration,
)

LINK = "https://auth.example.com/connect/hh?session=abc"
REVOKED = "the access was revoked at hh.ru (invalid_grant: token was revoked)"


def test_owners_that_are_telegram_chats() -> None:
    assert chat_id_of("tg:12345") == 12345
    assert chat_id_of("tg:-100123") == -100123
    for owner in ("12345", "tg:", "tg:abc", "tg:12 3", "default", "tg:1:2", "xtg:1"):
        assert chat_id_of(owner) is None


def test_languages_fall_back_to_the_default() -> None:
    assert language_of("ru", "en") == "ru"
    assert language_of("ru-RU", "en") == "ru"
    assert language_of("EN-gb", "ru") == "en"
    assert language_of("de", "ru") == "ru"
    assert language_of(None, "en") == "en"


def test_english_message_names_the_provider_account_reason_and_link() -> None:
    message = reconnect_message(chat_id=7, language="en", provider="HeadHunter",
                                account="Ivan Petrov", reason=REVOKED, link_url=LINK,
                                link_lifetime=timedelta(hours=24))
    assert message.chat_id == 7
    assert message.text.startswith("Your HeadHunter account (Ivan Petrov) is no longer "
                                   "connected: the access was revoked.")
    assert "within 1 day" in message.text
    assert [(b.text, b.url) for b in message.buttons] == [("Connect HeadHunter again", LINK)]
    assert LINK not in message.text  # the link is in the button only


def test_russian_message() -> None:
    message = reconnect_message(chat_id=7, language="ru", provider="HeadHunter", account=None,
                                reason=REVOKED, link_url=LINK, link_lifetime=timedelta(hours=24))
    assert message.text.startswith("Ваш аккаунт HeadHunter больше не подключён: доступ был "
                                   "отозван.")
    assert "действует 1 день" in message.text
    assert message.buttons[0].text == "Подключить HeadHunter снова"


@pytest.mark.parametrize(("reason", "en", "ru"), [
    ("hh.ru ... (invalid_grant: token deactivated)", "password was changed",
     "пароль аккаунта был изменён"),
    ("hh.ru says the refresh token was already used (invalid_grant: token has already been "
     "refreshed)", "could not be renewed", "не удалось продлить"),
    ("a refresh was interrupted (authgate stopped) after ...", "could not be renewed",
     "не удалось продлить"),
    ("something new", "no longer accepts the saved access (something new)",
     "больше не принимает сохранённый доступ (something new)"),
    (None, "no longer accepts the saved access", "больше не принимает сохранённый доступ"),
])
def test_reasons_are_explained_in_both_languages(reason: str | None, en: str, ru: str) -> None:
    assert en in explain(reason, "en")
    assert ru in explain(reason, "ru")
    assert len(explain("x" * 1000, "en")) < 300


def test_durations_in_words() -> None:
    assert say_duration(timedelta(minutes=30), "en") == "30 minutes"
    assert say_duration(timedelta(minutes=30), "ru") == "30 минут"
    assert say_duration(timedelta(hours=1), "en") == "1 hour"
    assert say_duration(timedelta(hours=2), "ru") == "2 часа"
    assert say_duration(timedelta(days=1), "ru") == "1 день"
    assert say_duration(timedelta(hours=5), "ru") == "5 часов"
    assert say_duration(timedelta(minutes=21), "ru") == "21 минуту"
    assert say_duration(timedelta(seconds=5), "en") == "1 minute"
