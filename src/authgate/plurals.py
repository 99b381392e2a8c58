"""Plural forms of English and Russian, for the pages and for chat messages alike."""

from __future__ import annotations


def plural_index(lang: str, n: int) -> int:
    """Which of a message's ``|``-separated forms fits ``n`` (CLDR's rules for integers):
    English one|other; Russian one|few|many ("1 минута", "3 минуты", "5 минут", "21 минута")."""
    n = abs(n)
    if lang == "ru":
        if n % 10 == 1 and n % 100 != 11:
            return 0
        if 2 <= n % 10 <= 4 and not 12 <= n % 100 <= 14:
            return 1
        return 2
    return 0 if n == 1 else 1


def pick_plural(lang: str, n: int, text: str) -> str:
    """The form of ``text`` (forms separated by ``|``, e.g. ``"{n} minute|{n} minutes"``) that
    fits the number ``n``."""
    forms = text.split("|")
    return forms[min(plural_index(lang, n), len(forms) - 1)]
