"""Sign-in pages waiting for the person's choice: the authorize parameters are kept here, keyed
by a random id in the page's form, so the choice cannot change what the application asked for."""

from __future__ import annotations

import secrets
import time

PENDING_TTL = 900.0  # seconds a shown sign-in page stays usable


class PendingRequests:
    def __init__(self) -> None:
        self._pending: dict[str, tuple[float, dict[str, str]]] = {}

    def add(self, params: dict[str, str]) -> str:
        now = time.monotonic()
        for rid in [r for r, (expires, _) in self._pending.items() if expires < now]:
            del self._pending[rid]
        request_id = secrets.token_urlsafe(16)
        self._pending[request_id] = (now + PENDING_TTL, params)
        return request_id

    def take(self, request_id: str) -> dict[str, str] | None:
        """The parameters of a live page, once; None when unknown, used or expired."""
        entry = self._pending.pop(request_id, None)
        if entry is None or entry[0] < time.monotonic():
            return None
        return entry[1]
