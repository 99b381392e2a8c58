"""The vault auths in real httpx clients, against a vault and an API served on loopback."""

from __future__ import annotations

import concurrent.futures
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
import anyio.to_thread
import httpx
import pytest

from authgate_vault_client import AsyncClient, Client, NeedsReauth
from tests.client.double import API_KEY, HOLD_LIMIT, VaultDouble

BURST = 20


@asynccontextmanager
async def vault_of(kind: str, url: str) -> AsyncIterator[AsyncClient | Client]:
    """An ``AsyncClient``, or a sync ``Client`` whose auth in an ``httpx.AsyncClient`` asks the
    vault from worker threads: both must serve an event loop well."""
    if kind == "async":
        async with AsyncClient(url, API_KEY) as vault:
            yield vault
    else:
        with Client(url, API_KEY) as sync_vault:
            yield sync_vault


def test_twenty_threads_rejected_with_one_stale_token_fetch_one_fresh_token(double: VaultDouble):
    vault = Client(double.url, API_KEY)
    api = httpx.Client(base_url=double.url, auth=vault.auth("hh", "tg:1"), timeout=60,
                       limits=httpx.Limits(max_connections=BURST + 5))
    assert api.get("/api/thing").json() == {"token": "tok-1"}
    assert double.fetches == 1

    double.rotate()  # the token the auth holds is refused from now on
    double.hold_fetches_until_rejected(BURST)
    with concurrent.futures.ThreadPoolExecutor(BURST) as pool:
        answers = list(pool.map(lambda _: api.get("/api/thing"), range(BURST)))

    assert [a.status_code for a in answers] == [200] * BURST
    assert {a.json()["token"] for a in answers} == {"tok-2"}
    assert double.rejected == BURST  # every request held the stale token …
    assert double.fetches == 2       # … and one fetch replaced it for all of them
    api.close()
    vault.close()


@pytest.mark.anyio
@pytest.mark.parametrize("vault_kind", ["async", "sync"])
async def test_twenty_tasks_rejected_with_one_stale_token_fetch_one_fresh_token(
        double: VaultDouble, vault_kind: str):
    async with vault_of(vault_kind, double.url) as vault, httpx.AsyncClient(
            base_url=double.url, auth=vault.auth("hh", "tg:1"), timeout=60) as api:
        assert (await api.get("/api/thing")).json() == {"token": "tok-1"}
        double.rotate()
        double.hold_fetches_until_rejected(BURST)
        answers: list[httpx.Response] = []

        async def call() -> None:
            answers.append(await api.get("/api/thing"))

        async with anyio.create_task_group() as tasks:
            for _ in range(BURST):
                tasks.start_soon(call)

    assert [a.status_code for a in answers] == [200] * BURST
    assert {a.json()["token"] for a in answers} == {"tok-2"}
    assert double.rejected == BURST
    assert double.fetches == 2


@pytest.mark.anyio
@pytest.mark.parametrize("vault_kind", ["async", "sync"])
async def test_a_slow_vault_does_not_stall_the_event_loop(double: VaultDouble, vault_kind: str):
    """While the vault holds its answer, another task of the same loop keeps making progress;
    only then does the test let the vault answer. A fetch that blocked the loop would leave the
    ticker still, and the vault would answer only when its hold runs out (the test then fails)."""
    release = double.hold = threading.Event()
    progress: list[int] = []  # ticks done while the fetch was pending, then the answers seen

    async def ticker() -> None:
        await anyio.to_thread.run_sync(double.fetch_started.wait, HOLD_LIMIT)
        for tick in range(5):
            await anyio.sleep(0)
            progress.append(tick)
        progress.append(double.answered)
        release.set()

    async with vault_of(vault_kind, double.url) as vault, httpx.AsyncClient(
            base_url=double.url, auth=vault.auth("hh", "tg:1")) as api, \
            anyio.create_task_group() as tasks:
        tasks.start_soon(ticker)
        response = await api.get("/api/thing")

    assert response.json() == {"token": "tok-1"}
    assert progress == [0, 1, 2, 3, 4, 0]  # five ticks, and the vault had answered nothing yet


def test_the_token_is_kept_until_the_vault_says_it_has_expired(double: VaultDouble):
    with Client(double.url, API_KEY) as vault, httpx.Client(
            base_url=double.url, auth=vault.auth("hh", "tg:1")) as api:
        for _ in range(3):
            assert api.get("/api/thing").status_code == 200
    assert double.fetches == 1


def test_an_expired_token_is_fetched_again_before_the_request(double: VaultDouble):
    double.expires_in = 0  # every token the vault gives has run out by the time it is used
    with Client(double.url, API_KEY) as vault, httpx.Client(
            base_url=double.url, auth=vault.auth("hh", "tg:1")) as api:
        for _ in range(3):
            assert api.get("/api/thing").status_code == 200
            double.rotate()
    assert double.fetches == 3 and double.rejected == 0


def test_a_refused_token_that_the_vault_still_gives_is_not_sent_again(double: VaultDouble):
    double.refuse_all = True
    with Client(double.url, API_KEY) as vault, httpx.Client(
            base_url=double.url, auth=vault.auth("hh", "tg:1")) as api:
        response = api.get("/api/thing")
    assert response.status_code == 401  # the API's answer, as it is
    assert double.fetches == 2          # the vault was asked again …
    assert double.api_calls == 1        # … but had nothing new, so nothing was retried


def test_refresh_on_names_the_statuses_of_a_stale_token(double: VaultDouble):
    double.stale_status = 403  # hh.ru answers 403 to an expired or revoked token
    with Client(double.url, API_KEY) as vault:
        plain = httpx.Client(base_url=double.url, auth=vault.auth("hh", "tg:1"))
        hh = httpx.Client(base_url=double.url, auth=vault.auth("hh", "tg:2",
                                                               refresh_on={401, 403}))
        assert plain.get("/api/thing").status_code == hh.get("/api/thing").status_code == 200
        double.rotate()
        assert plain.get("/api/thing").status_code == 403  # not a stale token to this auth
        assert hh.get("/api/thing").json() == {"token": "tok-2"}
        assert double.fetches == 3
        plain.close()
        hh.close()


@pytest.mark.anyio
async def test_needs_reauth_comes_out_of_the_api_call(double: VaultDouble):
    with Client(double.url, API_KEY) as vault, httpx.Client(
            base_url=double.url, auth=vault.auth("hh", "gone")) as api, \
            pytest.raises(NeedsReauth) as sync_err:
        api.get("/api/thing")
    async with AsyncClient(double.url, API_KEY) as avault, httpx.AsyncClient(
            base_url=double.url, auth=avault.auth("hh", "gone")) as aapi:
        with pytest.raises(NeedsReauth) as async_err:
            await aapi.get("/api/thing")
    for err in (sync_err.value, async_err.value):
        assert (err.error, err.detail, err.status) == ("needs_reauth", "hh: token was revoked",
                                                       409)
    assert double.api_calls == 0  # no request went out without a token


def test_the_async_auth_refuses_a_sync_httpx_client(double: VaultDouble):
    vault = AsyncClient(double.url, API_KEY)
    with httpx.Client(base_url=double.url, auth=vault.auth("hh", "tg:1")) as api, \
            pytest.raises(TypeError, match="AsyncClient"):
        api.get("/api/thing")
    assert double.fetches == 0
