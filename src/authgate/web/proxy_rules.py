"""The proxy's decisions that need no network: which paths may go to a provider's API, which
headers cross in each direction, where a redirect may point, and when a Retry-After is short
enough to wait out. Pure functions, tested one by one."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from urllib.parse import unquote_to_bytes

import httpx

from authgate.errors import InvalidRequest

# RFC 9110 §7.6.1 (Connection and what it names) and RFC 9112's connection-specific fields.
HOP_BY_HOP = frozenset({"connection", "keep-alive", "te", "trailer", "transfer-encoding",
                        "upgrade", "proxy-connection"})
# The caller's credentials and address are for authgate, never for the provider; the body's
# length is told again by the transport; the encoding is asked for explicitly.
NOT_FORWARDED = frozenset({"authorization", "cookie", "host", "content-length",
                           "accept-encoding", "forwarded", "x-forwarded-for",
                           "x-forwarded-host", "x-forwarded-proto", "x-forwarded-port",
                           "x-real-ip"})
# A provider's cookie would be set on authgate's own domain.
NOT_RETURNED = frozenset({"set-cookie", "set-cookie2"})


def invalid_path(detail: str) -> InvalidRequest:
    return InvalidRequest(detail, error="invalid_proxy_path")


def check_sub_path(raw: bytes) -> str:
    """The part of the request's path after ``/api/v1/proxy/{provider}/{owner}/``, exactly as
    sent (percent-escapes kept), checked so that it cannot leave ``api_base``: no ``.`` or
    ``..`` segment (escaped or not), no empty segment (``//host``), no backslash, no escaped
    slash or backslash, no scheme, no control character. Returns it as text."""
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError:
        raise invalid_path("the path must be ASCII (percent-encode anything else)") from None
    lowered = text.lower()
    if "%2f" in lowered or "%5c" in lowered or "\\" in text:
        raise invalid_path("the path may not contain a backslash or an escaped slash")
    if "#" in text or any(ord(ch) < 0x21 or ord(ch) == 0x7F for ch in text):
        raise invalid_path("the path may not contain spaces, control characters or #")
    if text == "":
        return text
    segments = text.split("/")
    if any(s == "" for s in segments[:-1]):
        raise invalid_path("the path may not contain an empty segment (//)")
    for segment in segments:
        decoded = unquote_to_bytes(segment)
        if decoded in (b".", b".."):
            raise invalid_path("the path may not contain . or .. segments")
        if any(b < 0x20 or b == 0x7F for b in decoded):
            raise invalid_path("the path may not contain control characters")
    if ":" in unquote_to_bytes(segments[0]).decode("latin-1"):
        raise invalid_path("the path is relative to the provider's API; not a URL")
    return text


def path_allowed(sub_path: str, prefixes: Sequence[str]) -> bool:
    """Whether ``/`` + ``sub_path`` (decoded) is under one of ``prefixes``; none: everything."""
    if not prefixes:
        return True
    path = "/" + unquote_to_bytes(sub_path).decode("utf-8", "replace")
    return any(p == "/" or path == p or path.startswith(p + "/") for p in prefixes)


def upstream_url(api_base: str, sub_path: str, query: bytes) -> httpx.URL:
    base = httpx.URL(api_base)
    raw = base.raw_path.split(b"?", 1)[0].rstrip(b"/") + b"/" + sub_path.encode("ascii")
    return base.copy_with(raw_path=raw + (b"?" + query if query else b""))


def _connection_named(headers: Iterable[tuple[str, str]]) -> set[str]:
    named: set[str] = set()
    for name, value in headers:
        if name.lower() == "connection":
            named.update(v.strip().lower() for v in value.split(",") if v.strip())
    return named


def _passes(name: str, dropped: frozenset[str], named: set[str]) -> bool:
    lowered = name.lower()
    return not (lowered in HOP_BY_HOP or lowered in dropped or lowered in named
                or lowered.startswith("proxy-"))


def request_headers(incoming: Sequence[tuple[str, str]],
                    required: dict[str, str]) -> list[tuple[str, str]]:
    """The caller's headers that may reach the provider, then the provider's own (``Accept``
    only when the caller named none)."""
    named = _connection_named(incoming)
    out = [(k, v) for k, v in incoming if _passes(k, NOT_FORWARDED, named)]
    present = {k.lower() for k, _ in out}
    for name, value in required.items():
        if name.lower() == "accept" and "accept" in present:
            continue
        out = [(k, v) for k, v in out if k.lower() != name.lower()]
        out.append((name, value))
    return out


def response_headers(upstream: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    named = _connection_named(upstream)
    return [(k, v) for k, v in upstream if _passes(k, NOT_RETURNED, named)]


def relayed_location(location: str, request_url: httpx.URL, api_base: str,
                     proxy_base: str) -> str | None:
    """A redirect's target, rewritten from under ``api_base`` to under ``proxy_base``; None
    when it points anywhere else (another host, scheme, port, or a path outside the API)."""
    try:
        target = request_url.join(location)
    except httpx.InvalidURL:
        return None
    base = httpx.URL(api_base)
    if (target.scheme, target.host, target.port) != (base.scheme, base.host, base.port):
        return None
    if target.userinfo:
        return None
    base_path = base.raw_path.split(b"?", 1)[0].rstrip(b"/")
    path = target.raw_path  # with the query
    if not (path.startswith(base_path + b"/") or path == base_path
            or path.startswith(base_path + b"?")):
        return None
    rest = path[len(base_path):].decode("ascii")
    return proxy_base + (rest if rest.startswith("/") else "/" + rest)


def retry_after_seconds(value: str | None, bound: float) -> float | None:
    """A Retry-After in whole seconds no longer than ``bound``; None for anything else (an
    HTTP date, a longer wait, garbage): then the answer goes back to the caller as it is."""
    if value is None or not value.strip().isdigit():
        return None
    seconds = float(int(value.strip()))
    return seconds if seconds <= bound else None
