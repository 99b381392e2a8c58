"""Times in a console table, in the page's language: "in 1 min 5 s", "3 s ago"."""

from __future__ import annotations

from datetime import datetime

from authgate import timefmt
from authgate.web.i18n import translate


def words(lang: str) -> timefmt.TimeWords:
    return timefmt.TimeWords(
        unit=lambda unit, n: translate(lang, f"time.{unit}", n=n),
        future=lambda text: translate(lang, "time.in", span=text),
        past=lambda text: translate(lang, "time.ago", span=text),
        now=translate(lang, "time.now"))


def span(seconds: int, lang: str) -> str:
    return timefmt.span(seconds, words(lang))


def relative(when: datetime | None, now: datetime, lang: str, *, empty: str = "—") -> str:
    return timefmt.relative(when, now, words(lang), empty=empty)


def absolute(when: datetime | None) -> str:
    """Machine-readable, for ``<time datetime>`` and tooltips."""
    return "" if when is None else timefmt.iso(when, timespec="seconds")
