"""Single flight: concurrent callers asking for the same key share one running task."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
T = TypeVar("T")


class SingleFlight(Generic[K, T]):
    def __init__(self) -> None:
        self._running: dict[K, asyncio.Future[T]] = {}

    def running(self, key: K) -> bool:
        return key in self._running

    async def run(self, key: K, start: Callable[[], Awaitable[T]]) -> T:
        """The result of the task running for ``key``, starting one with ``start`` if none is.

        A caller that is cancelled does not cancel the shared task (``shield``): the others
        still get their answer, and a refresh already sent is still stored.
        """
        task = self._running.get(key)
        if task is None:
            task = asyncio.ensure_future(start())
            self._running[key] = task
            task.add_done_callback(lambda _t: self._running.pop(key, None))
            # Retrieved even when every caller was cancelled: no "exception never retrieved".
            task.add_done_callback(lambda t: t.cancelled() or t.exception())
        return await asyncio.shield(task)
