"""New pairs written together: group commit for the refreshes' final writes.

Every refresh ends in one conditional UPDATE of its row. In a refresh storm, the transaction
around that UPDATE (a worker thread, BEGIN and COMMIT, a session, the webhook subscriptions read
for its event) costs more than the UPDATE itself. So refreshes that finish while a write is
under way wait for the next one, which carries all of them in one transaction. A refresh that
finishes alone is written at once, alone: nothing ever waits for a batch to fill.

Each caller still gets its own answer (the stored view, None when superseded, NotFound when the
connection was removed), and sees its pair only after the transaction holding it has committed.
When that transaction fails (the database went away), every caller in it gets the error and keeps
its pair in the journal, as a lone write's caller would.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable
from typing import TypeVar

import anyio

from authgate.errors import NotFound
from authgate.vault.connections import ConnectionStore, ConnectionView, NewPair

T = TypeVar("T")

# At most this many pairs per transaction: a storm's batch stays one short write.
MAX_BATCH = 64

Stored = ConnectionView | NotFound | None
Waiting = tuple[NewPair, "asyncio.Future[Stored]"]


class PairWriter:
    def __init__(self, store: ConnectionStore,
                 write: Callable[[Callable[[], list[Stored]]], Awaitable[list[Stored]]]) -> None:
        """``write`` runs a blocking store call off the event loop (and, on SQLite, in turn
        with the process's other writes)."""
        self._store = store
        self._write = write
        self._waiting: list[Waiting] = []
        self._writer: asyncio.Task[None] | None = None

    async def complete(self, pair: NewPair) -> ConnectionView | None:
        """Store ``pair`` (see ``ConnectionStore.complete_refresh``): None when a newer pair is
        stored already; raises NotFound when the connection was removed, and what the database
        raises when the write failed."""
        answer: asyncio.Future[Stored] = asyncio.get_running_loop().create_future()
        self._waiting.append((pair, answer))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.ensure_future(self._write_waiting())
        # The provider has spent the old refresh token: the caller must learn how the write
        # ended (to journal the pair if it failed), however it is cancelled meanwhile.
        with anyio.CancelScope(shield=True):
            stored = await answer
        if isinstance(stored, NotFound):
            raise stored
        return stored

    async def _write_waiting(self) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting[:MAX_BATCH], self._waiting[MAX_BATCH:]
            pairs = [pair for pair, _ in batch]
            try:
                results = await self._write(functools.partial(self._store.complete_refreshes,
                                                              pairs))
            except Exception as exc:
                for _, answer in batch:
                    answer.set_exception(exc)
            except BaseException:  # cancelled (the process is stopping): nobody waits in vain
                for _, answer in [*batch, *self._waiting]:
                    answer.cancel()
                self._waiting = []
                raise
            else:
                for (_, answer), stored in zip(batch, results, strict=True):
                    answer.set_result(stored)
