"""English and Russian for every page: ``?lang=``, then the ``authgate_lang`` cookie, then
Accept-Language. The catalogue is built here, once, from the message modules; a missing Russian
string falls back to English rather than showing a key."""

from __future__ import annotations

from collections.abc import Mapping

from starlette.requests import Request

from authgate.plurals import pick_plural, plural_index
from authgate.web.messages import common, console, errors, signin, webhooks

__all__ = ["LANGS", "Catalog", "asked_language", "negotiate", "pick_plural", "plural_index",
           "translate", "translate_plural"]

LANGS = ("en", "ru")
LANG_COOKIE = "authgate_lang"

Messages = Mapping[str, Mapping[str, str]]


class Catalog:
    """Messages by language, merged from parts; later parts may not redefine a key."""

    def __init__(self, *parts: Messages) -> None:
        self.messages: dict[str, dict[str, str]] = {lang: {} for lang in LANGS}
        for part in parts:
            for lang, texts in part.items():
                clash = self.messages[lang].keys() & texts.keys()
                if clash:
                    raise ValueError(f"message keys defined twice: {sorted(clash)}")
                self.messages[lang].update(texts)

    def has(self, lang: str, key: str) -> bool:
        return key in self.messages.get(lang, {})

    def translate(self, lang: str, key: str, **values: object) -> str:
        text = self.messages.get(lang, {}).get(key) or self.messages["en"].get(key) or key
        return text.format(**values) if values else text


CATALOG_PARTS = (common.MESSAGES, signin.MESSAGES, console.MESSAGES, errors.MESSAGES,
                 webhooks.MESSAGES)
CATALOG = Catalog(*CATALOG_PARTS)


def negotiate(request: Request) -> str:
    return asked_language(request) or "en"


def asked_language(request: Request) -> str | None:
    """The language the browser asks for, if it is one of ours; None when it names none."""
    asked = request.query_params.get("lang") or request.cookies.get(LANG_COOKIE)
    if asked in LANGS:
        return asked
    for part in request.headers.get("accept-language", "").split(","):
        code = part.split(";")[0].strip().lower()[:2]
        if code in LANGS:
            return code
    return None


def translate(lang: str, key: str, **values: object) -> str:
    return CATALOG.translate(lang, key, **values)


def translate_plural(lang: str, key: str, n: int, **values: object) -> str:
    return pick_plural(lang, n, translate(lang, key, n=n, **values))
