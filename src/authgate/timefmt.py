"""Times as text: RFC 3339 for machines, "in 1 min 5 s" / "3 s ago" for people.

The relative form takes its words from the caller (the pages' catalogue, the CLI's compact
English), so there is one way of choosing units in the whole program.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

_UNITS = (("d", 86400), ("h", 3600), ("m", 60), ("s", 1))


def iso(value: datetime, *, timespec: str = "auto") -> str:
    """RFC 3339 with UTC written ``Z``, as the API and the pages' ``<time datetime>`` give it."""
    return value.isoformat(timespec=timespec).replace("+00:00", "Z")


@dataclass(frozen=True)
class TimeWords:
    unit: Callable[[str, int], str]  # ("m", 5) -> "5 min"
    future: Callable[[str], str]  # "5 min" -> "in 5 min"
    past: Callable[[str], str]  # "5 min" -> "5 min ago"
    now: str


def span(seconds: int, words: TimeWords) -> str:
    """Two most significant units: precise enough to watch a token expire, short enough to
    read ("13 d 23 h", "1 min 5 s")."""
    seconds = max(0, seconds)
    first = next(i for i, (_, size) in enumerate(_UNITS) if seconds >= size or size == 1)
    unit, size = _UNITS[first]
    count, rest = divmod(seconds, size)
    parts = [words.unit(unit, count)]
    if first + 1 < len(_UNITS):
        small_unit, small_size = _UNITS[first + 1]
        if rest // small_size:
            parts.append(words.unit(small_unit, rest // small_size))
    return " ".join(parts)


def relative(when: datetime | None, now: datetime, words: TimeWords, *,
             empty: str = "—") -> str:
    if when is None:
        return empty
    delta = round((when - now).total_seconds())
    if delta == 0:
        return words.now
    text = span(abs(delta), words)
    return words.future(text) if delta > 0 else words.past(text)


# For terminals: "in 13d 23h", "5m ago".
COMPACT_ENGLISH = TimeWords(unit=lambda unit, n: f"{n}{unit}", future=lambda s: f"in {s}",
                            past=lambda s: f"{s} ago", now="now")
