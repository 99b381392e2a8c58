"""English and Russian for every page: ``?lang=``, then the ``authgate_lang`` cookie, then
Accept-Language. Messages live in one catalogue per language; a missing Russian string falls
back to English rather than showing a key."""

from __future__ import annotations

from starlette.requests import Request

LANGS = ("en", "ru")
LANG_COOKIE = "authgate_lang"

CATALOG: dict[str, dict[str, str]] = {
    "en": {
        "app": "authgate",
        "language": "Language",
        "error.title": "Something went wrong",
        "error.back": "Back to the start",
        "error.code": "Error code",
        "connect.ok.title": "Connected",
        "connect.ok.body": "Your {provider} account {account} is connected. You can close this "
                           "page and go back to the bot.",
        "connect.fail.title": "Not connected",
        "nav.login": "Sign in",
        "nav.logout": "Sign out",
        "nav.console": "Console",
        "skip": "Skip to content",
    },
    "ru": {
        "app": "authgate",
        "language": "Язык",
        "error.title": "Что-то пошло не так",
        "error.back": "Вернуться в начало",
        "error.code": "Код ошибки",
        "connect.ok.title": "Подключено",
        "connect.ok.body": "Ваш аккаунт {provider} {account} подключён. Эту страницу можно "
                           "закрыть и вернуться к боту.",
        "connect.fail.title": "Не подключено",
        "nav.login": "Войти",
        "nav.logout": "Выйти",
        "nav.console": "Консоль",
        "skip": "Перейти к содержимому",
    },
}


def add_messages(lang: str, messages: dict[str, str]) -> None:
    """Let feature modules (sign-in, console) keep their strings next to their pages."""
    CATALOG.setdefault(lang, {}).update(messages)


def negotiate(request: Request) -> str:
    asked = request.query_params.get("lang") or request.cookies.get(LANG_COOKIE)
    if asked in LANGS:
        return asked
    for part in request.headers.get("accept-language", "").split(","):
        code = part.split(";")[0].strip().lower()[:2]
        if code in LANGS:
            return code
    return "en"


def translate(lang: str, key: str, **values: object) -> str:
    text = CATALOG.get(lang, {}).get(key) or CATALOG["en"].get(key) or key
    return text.format(**values) if values else text
