"""Times as people read them in a table: "in 1 min 5 s", "3 s ago", in the page's language."""

from __future__ import annotations

from datetime import datetime

from authgate.web.i18n import translate

_UNITS = (("d", 86400), ("h", 3600), ("m", 60), ("s", 1))


def span(seconds: int, lang: str) -> str:
    """Two most significant units: precise enough to watch a token expire, short enough to
    read ("13 d 23 h", "1 min 5 s")."""
    seconds = max(0, seconds)
    first = next(i for i, (_, size) in enumerate(_UNITS) if seconds >= size or size == 1)
    unit, size = _UNITS[first]
    count, rest = divmod(seconds, size)
    parts = [translate(lang, f"time.{unit}", n=count)]
    if first + 1 < len(_UNITS):
        small_unit, small_size = _UNITS[first + 1]
        if rest // small_size:
            parts.append(translate(lang, f"time.{small_unit}", n=rest // small_size))
    return " ".join(parts)


def relative(when: datetime | None, now: datetime, lang: str, *, empty: str = "—") -> str:
    if when is None:
        return empty
    delta = round((when - now).total_seconds())
    if delta == 0:
        return translate(lang, "time.now")
    key = "time.in" if delta > 0 else "time.ago"
    return translate(lang, key, span=span(abs(delta), lang))


def absolute(when: datetime | None) -> str:
    """Machine-readable, for ``<time datetime>`` and tooltips."""
    return "" if when is None else when.isoformat(timespec="seconds").replace("+00:00", "Z")
