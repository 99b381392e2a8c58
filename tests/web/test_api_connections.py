"""``GET /api/v1/connections`` as the SPEC has it: pages of at most ``limit`` (default 100, at
most 1000) with an opaque ``next_cursor``, filtered by provider, status and owner prefix, and a
scoped key's prefix always applied."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest

from authgate.protocol.rfc6749_oauth2 import TokenResponse
from authgate.providers.base import Account
from tests.web import test_scoped_keys
from tests.web.test_scoped_keys import Vault

vault = test_scoped_keys.vault  # the same fixture: a runtime with three stored connections

OWNERS = [f"tg:{n:03d}" for n in range(7)] + ["slack:1", "slack:2", "a%b_c"]


@pytest.fixture
def many(vault: Vault) -> Iterator[Vault]:
    runtime = vault.runtime
    now = runtime.clock.now()
    for owner in OWNERS:
        runtime.vault.store.save_tokens(
            "hh", owner, TokenResponse(access_token=f"at-{owner}", expires_in=3600),
            Account(id=owner, name=None), now=now, next_refresh_at=now + timedelta(hours=1))
    runtime.vault.store.mark_needs_reauth(runtime.vault.store.get("hh", "slack:2"),  # type: ignore[arg-type]
                                          now=now, reason="revoked")
    yield vault


def _all_pages(client: httpx.Client, **params: Any) -> tuple[list[str], int]:
    owners: list[str] = []
    pages, cursor = 0, None
    while True:
        got = client.get("/api/v1/connections", params={**params, **(
            {"cursor": cursor} if cursor else {})})
        assert got.status_code == 200, got.text
        body = got.json()
        assert set(body) == {"items", "next_cursor"}
        owners += [c["owner"] for c in body["items"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            return owners, pages


def test_pages_walk_every_connection_once_in_order(many: Vault) -> None:
    bot = many.bot()
    everyone = sorted({*OWNERS, "tg:1", "tg:2", "slack:1"})
    owners, pages = _all_pages(bot, limit=3)
    assert owners == everyone and pages == -(-len(everyone) // 3)
    assert _all_pages(bot)[0] == everyone  # the default page holds them all
    first = bot.get("/api/v1/connections", params={"limit": 1}).json()
    assert len(first["items"]) == 1 and first["next_cursor"]


def test_filters_by_owner_prefix_status_and_provider(many: Vault) -> None:
    bot = many.bot()
    assert _all_pages(bot, owner_prefix="tg:0", limit=2)[0] == [f"tg:{n:03d}" for n in range(7)]
    # LIKE's wildcards in a prefix are plain characters.
    assert _all_pages(bot, owner_prefix="a%")[0] == ["a%b_c"]
    assert _all_pages(bot, owner_prefix="a_")[0] == []
    assert _all_pages(bot, status="needs_reauth")[0] == ["slack:2"]
    assert _all_pages(bot, provider="other")[0] == []


def test_a_scoped_key_pages_through_its_own_owners_only(many: Vault) -> None:
    bot = many.bot(owner_prefix="slack:")
    assert _all_pages(bot, limit=1)[0] == ["slack:1", "slack:2"]
    # Its prefix and the asked one both apply.
    assert _all_pages(bot, owner_prefix="tg:")[0] == []


@pytest.mark.parametrize("query", [{"limit": "0"}, {"limit": "1001"}, {"limit": "x"},
                                   {"cursor": "not-a-cursor"}, {"cursor": "W10"}])
def test_bad_paging_parameters_are_400(many: Vault, query: dict[str, str]) -> None:
    got = many.bot().get("/api/v1/connections", params=query)
    assert got.status_code == 400
    assert got.json()["error"] in {"invalid_limit", "invalid_cursor"}
