"""Adding query parameters to an endpoint URL (RFC 6749 §3.1: its own query is retained)."""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit


def add_params_to_uri(uri: str, params: Iterable[tuple[str, str]]) -> str:
    """``uri`` with ``params`` appended to its query; its own parameters and fragment stay."""
    parts = urlsplit(uri)
    query = parse_qsl(parts.query, keep_blank_values=True)
    query.extend(params)
    return urlunsplit(parts._replace(query=urlencode(query)))
