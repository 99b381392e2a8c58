"""The refresh engine: claims the connections whose refresh time has come and refreshes them.

Which connections and when is the database's answer (``next_refresh_at``, set from each
provider's rule, compared with the database's time); which replica refreshes which is decided by
the claim (``ConnectionStore.claim_due``): each takes only as many as it has free slots, so work
is shared between replicas instead of fought over. How one connection is refreshed is
``Refresher.refresh_claimed``, whose outcome says what happened.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

import anyio

from authgate.protocol.refresh_policy import may_refresh_now
from authgate.vault.connections import NEEDS_REAUTH, Claim, ConnectionView
from authgate.vault.refresh import OutcomeKind
from authgate.vault.service import Vault

log = logging.getLogger("authgate.vault")

# Connections claimed at most per batch (fewer when fewer engine slots are free).
PASS_LIMIT = 1000
# A busy engine claims again once this share of its slots is free: batches, not one claim
# transaction per finished refresh.
BATCH_SHARE = 4


async def refresh_due(vault: Vault) -> dict[str, int]:
    """Refresh what is due now, in batches claimed for this process, until nothing due is left
    unclaimed. Returns counts by outcome, of this process's own refreshes only."""
    counts = _zero()
    await vault.refresher.replay_journal()  # what an earlier run could not write, first
    while True:
        claims = await vault.refresher.claim_due(vault.settings.refresh_concurrency)
        if not claims:
            return counts
        async with anyio.create_task_group() as tg:
            for claim in claims:
                tg.start_soon(_refresh_counted, vault, claim, counts)


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


def _zero() -> dict[str, int]:
    return {"ok": 0, "retry": 0, "needs_reauth": 0}


def _count(counts: dict[str, int], kind: OutcomeKind) -> None:
    if kind in COUNTED:
        counts[COUNTED[kind]] += 1


async def _refresh_counted(vault: Vault, claim: Claim, counts: dict[str, int]) -> None:
    _count(counts, (await vault.refresher.refresh_claimed(claim)).kind)


async def refresh_many(vault: Vault, connections: list[ConnectionView]) -> dict[str, int]:
    counts = _zero()

    async def one(conn: ConnectionView) -> None:
        _count(counts, (await vault.refresh(conn)).kind)

    async with anyio.create_task_group() as tg:
        for conn in connections:
            tg.start_soon(one, conn)
    return counts


# While kept pairs wait, the database is tried this often: the first to write after an outage
# should be the one holding a spent token's successor.
REPLAY_EVERY = 0.2


async def run_journal(vault: Vault, *, idle: float = 1.0) -> None:
    """Write the pairs kept while the database was away, as soon as it is back."""
    while True:
        done = not len(vault.refresher.journal) or await vault.refresher.replay_journal()
        await anyio.sleep(idle if done else REPLAY_EVERY)


async def run_engine(vault: Vault, *, idle: float = 1.0) -> None:
    """Refresh due connections until cancelled: claim as many as there are free engine slots,
    refresh each as its own task, claim again as slots free up; look again after ``idle`` once
    nothing is due. Logs one line when work ends (with its counts) and one per change between
    the database answering and not."""
    counts = _zero()
    failing = False
    async with anyio.create_task_group() as tg:
        batch = max(1, vault.settings.refresh_concurrency // BATCH_SHARE)
        while True:
            free = min(await vault.refresher.engine_slots(batch, timeout=idle), PASS_LIMIT)
            if free == 0:
                continue
            try:
                claims = await vault.refresher.claim_due(free)
            except Exception as exc:
                # The engine must outlive the database going away; the next look tries again.
                if not failing:
                    log.warning("refresh engine: cannot claim due connections (%s); retrying",
                                type(exc).__name__)
                failing, claims = True, []
            else:
                if failing:
                    log.info("refresh engine: the database answers again")
                failing = False
            for claim in claims:
                tg.start_soon(_refresh_counted, vault, claim, counts)
            if len(claims) < free:
                if any(counts.values()) and vault.refresher.engine_slots_free == (
                        vault.settings.refresh_concurrency):
                    log.info("refreshed ok=%d retry=%d needs_reauth=%d", counts["ok"],
                             counts["retry"], counts["needs_reauth"])
                    counts = _zero()
                await anyio.sleep(idle)
