"""The refresh engine: passes over the connections whose refresh time has come.

Which connections and when is the database's answer (``next_refresh_at``, set from each
provider's rule); how one connection is refreshed is ``Vault.refresh``, whose outcome says what
happened. The engine only runs passes, with the vault's bounded concurrency, and counts them.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

import anyio

from authgate.protocol.refresh_policy import may_refresh_now
from authgate.vault.connections import NEEDS_REAUTH, ConnectionView
from authgate.vault.refresh import OutcomeKind
from authgate.vault.service import Vault

log = logging.getLogger("authgate.vault")

# Connections taken per pass; a full pass is followed at once by the next one.
PASS_LIMIT = 1000


async def refresh_due(vault: Vault, *, limit: int = PASS_LIMIT) -> dict[str, int]:
    """One pass over due connections. Returns counts by outcome."""
    due = await anyio.to_thread.run_sync(
        lambda: vault.store.due(vault.clock.now(), lease=vault.lease, limit=limit))
    return await refresh_many(vault, due)


async def refresh_all_allowed(vault: Vault) -> dict[str, int]:
    """Refresh every active connection whose provider allows it now (not only due ones)."""
    now = vault.clock.now()
    rows = await anyio.to_thread.run_sync(vault.store.list_connections)
    allowed = [c for c in rows if c.status != NEEDS_REAUTH and c.next_refresh_at is not None
               and c.provider in vault.providers
               and may_refresh_now(vault.providers[c.provider].refresh_rule,
                                   expires_at=c.expires_at, now=now)]
    return await refresh_many(vault, allowed)


# How each outcome is counted; "not_due" and "gone" are nothing done and nothing to do.
COUNTED: Mapping[OutcomeKind, str] = {
    "refreshed": "ok", "retry_later": "retry", "needs_reauth": "needs_reauth"}


async def refresh_many(vault: Vault, connections: list[ConnectionView]) -> dict[str, int]:
    counts = {"ok": 0, "retry": 0, "needs_reauth": 0}

    async def one(conn: ConnectionView) -> None:
        outcome = await vault.refresh(conn)
        if outcome.kind in COUNTED:
            counts[COUNTED[outcome.kind]] += 1

    async with anyio.create_task_group() as tg:
        for conn in connections:
            tg.start_soon(one, conn)
    return counts


async def run_engine(vault: Vault, *, idle: float = 1.0) -> None:
    """Refresh due connections until cancelled."""
    while True:
        counts: dict[str, int] = {}
        try:
            counts = await refresh_due(vault)
            if any(counts.values()):
                log.info("refresh pass ok=%d retry=%d needs_reauth=%d", counts["ok"],
                         counts["retry"], counts["needs_reauth"])
        except Exception:
            # The engine must outlive a database hiccup; the next pass tries again.
            log.exception("refresh pass failed")
        if sum(counts.values()) < PASS_LIMIT:
            await anyio.sleep(idle)
