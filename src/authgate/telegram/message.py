"""The message a ``tg:<chat_id>`` owner gets when a connection needs them again: what stopped
working and why, in their language, with one button holding a fresh one-time connect link.

Plain data in, plain data out: the caller mints the link at delivery time (it is never stored
with the queued message), and knows the owner's language.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

from authgate.plurals import pick_plural

Language = Literal["en", "ru"]
LANGUAGES: tuple[Language, ...] = ("en", "ru")
OWNER_PREFIX = "tg:"
# A private chat's id is the user's id: a positive integer (groups are negative).
_CHAT_OWNER = re.compile(r"\Atg:(-?[0-9]{1,20})\Z")
_MAX_REASON = 200

# What a provider's refusal means, for people; matched in the stored reason, first hit wins.
# (hh.ru's documented invalid_grant descriptions; the last line catches any other provider.)
_REASONS: list[tuple[tuple[str, ...], dict[Language, str]]] = [
    (("token was revoked",), {"en": "the access was revoked",
                              "ru": "доступ был отозван"}),
    (("token deactivated",), {"en": "the account's password was changed or all its sessions "
                                    "were ended",
                              "ru": "пароль аккаунта был изменён или все его сеансы завершены"}),
    (("account not found",), {"en": "the account no longer exists",
                              "ru": "аккаунт больше не существует"}),
    (("already been refreshed", "interrupted"), {"en": "the access could not be renewed",
                                                 "ru": "не удалось продлить доступ"}),
]
_UNKNOWN_REASON: dict[Language, str] = {"en": "the service no longer accepts the saved access",
                                        "ru": "сервис больше не принимает сохранённый доступ"}

_TEXTS: dict[Language, dict[str, str]] = {
    "en": {
        "stopped": "Your {provider} account{account} is no longer connected: {reason}.",
        "again": "Press the button to connect it again. The link works once, within {lifetime}.",
        "button": "Connect {provider} again",
    },
    "ru": {
        "stopped": "Ваш аккаунт {provider}{account} больше не подключён: {reason}.",
        "again": "Нажмите кнопку, чтобы подключить его снова. Ссылка одноразовая и действует "
                 "{lifetime}.",
        "button": "Подключить {provider} снова",
    },
}


@dataclass(frozen=True)
class InlineButton:
    text: str
    url: str


@dataclass(frozen=True)
class ChatMessage:
    chat_id: int
    text: str
    buttons: tuple[InlineButton, ...] = ()


def chat_id_of(owner: str) -> int | None:
    """The chat an owner named ``tg:<chat_id>`` is reached in; None for any other owner."""
    match = _CHAT_OWNER.fullmatch(owner)
    return int(match.group(1)) if match else None


def language_of(value: str | None, default: Language) -> Language:
    """``ru``, ``ru-RU``, ``en-GB``… as one of ours; anything else is ``default``."""
    base = (value or "").split("-")[0].strip().lower()
    return next((lang for lang in LANGUAGES if lang == base), default)


def reconnect_message(*, chat_id: int, language: Language, provider: str, account: str | None,
                      reason: str | None, link_url: str, link_lifetime: timedelta) -> ChatMessage:
    """The "connect again" message for one incident; ``provider`` is its display name."""
    texts = _TEXTS[language]
    stopped = texts["stopped"].format(provider=provider, account=f" ({account})" if account
                                      else "", reason=explain(reason, language))
    again = texts["again"].format(lifetime=say_duration(link_lifetime, language))
    return ChatMessage(chat_id=chat_id, text=f"{stopped}\n\n{again}",
                       buttons=(InlineButton(texts["button"].format(provider=provider),
                                             link_url),))


def explain(reason: str | None, language: Language) -> str:
    """A needs_reauth reason as its owner would say it; an unknown one keeps the provider's
    words (cut short) after a general explanation."""
    lowered = (reason or "").lower()
    for needles, said in _REASONS:
        if any(n in lowered for n in needles):
            return said[language]
    words = " ".join((reason or "").split())[:_MAX_REASON]
    return f"{_UNKNOWN_REASON[language]} ({words})" if words else _UNKNOWN_REASON[language]


# The largest unit that divides a lifetime; its forms as ``pick_plural`` takes them.
_UNITS: dict[Language, list[tuple[int, str]]] = {
    "en": [(86400, "{n} day|{n} days"), (3600, "{n} hour|{n} hours"),
           (60, "{n} minute|{n} minutes")],
    "ru": [(86400, "{n} день|{n} дня|{n} дней"), (3600, "{n} час|{n} часа|{n} часов"),
           (60, "{n} минуту|{n} минуты|{n} минут")],
}


def say_duration(duration: timedelta, language: Language) -> str:
    """``24 hours`` / ``24 часа``: in the largest unit that divides it (minutes at the least)."""
    seconds = max(60, int(duration.total_seconds()))
    unit, forms = next((u, f) for u, f in _UNITS[language] if seconds % u == 0 or u == 60)
    n = max(1, seconds // unit)
    return pick_plural(language, n, forms).format(n=n)
