"""Where a sign-in may send the browser back to (``?next=``): never to someone else's site.

Accepted: a path on this origin (``/app?x=1``), or an absolute http(s) URL whose origin is
``public_url`` or one of ``login.allowed_redirects``. Everything else is refused, including what
browsers would turn into another host: ``//evil``, ``/\\evil`` (backslash is a slash to them),
tabs and newlines inside (they are stripped), userinfo tricks (``https://ok@evil``), and any of
these percent-encoded (a panel may decode ``next`` once more before using it).
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import unquote, urlsplit

from authgate.errors import InvalidRequest

_MAX_LENGTH = 2048


def _refuse() -> InvalidRequest:
    return InvalidRequest("This return address is not allowed: only this site and the "
                          "configured panels can be returned to.", error="unsafe_redirect")


def _origin_of(url: str) -> str | None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    if parts.username is not None or parts.password is not None:
        return None
    try:
        port = parts.port
    except ValueError:
        return None
    host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
    default = {"http": 80, "https": 443}[parts.scheme]
    return f"{parts.scheme}://{host}" + (f":{port}" if port and port != default else "")


def _normal_origin(origin: str) -> str:
    return _origin_of(origin) or origin


def origin_of(url: str) -> str | None:
    """``scheme://host[:port]`` of an absolute http(s) URL (default port left out, as browsers
    send it in ``Origin``), None for anything else."""
    return _origin_of(url)


def _looks_dangerous(text: str) -> bool:
    return ("\\" in text or any(ord(ch) < 0x21 or ord(ch) == 0x7F for ch in text)
            or text.startswith("//"))


def safe_next(value: str | None, *, public_url: str, allowed_origins: Iterable[str]) -> str | None:
    """The checked return address, None when none was given; ``InvalidRequest`` when unsafe."""
    if value is None or value == "":
        return None
    if len(value) > _MAX_LENGTH:
        raise _refuse()
    decoded = value
    for _ in range(3):  # what a once-, twice- or thrice-decoding consumer would see
        if _looks_dangerous(decoded):
            raise _refuse()
        decoded = unquote(decoded)
    if _looks_dangerous(decoded):
        raise _refuse()
    if value.startswith("/"):
        parts = urlsplit(value)
        if parts.scheme or parts.netloc:
            raise _refuse()
        return value
    origin = _origin_of(value)
    allowed = {_normal_origin(public_url), *(_normal_origin(o) for o in allowed_origins)}
    if origin is None or origin not in allowed:
        raise _refuse()
    return value


def is_same_origin(url: str, public_url: str) -> bool:
    """True for a path, or an absolute URL on ``public_url``'s origin."""
    return url.startswith("/") or _origin_of(url) == _normal_origin(public_url)
