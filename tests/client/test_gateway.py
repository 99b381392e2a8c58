"""The vault clients against the real thing: authgate under uvicorn as the vault, the hh.ru
look-alike (devidp) as the provider's API, both in processes of their own on loopback."""

from __future__ import annotations

import concurrent.futures
import threading
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import anyio
import httpx
import pytest

import authgate
import authgate.errors
from authgate_vault_client import AsyncClient, Client, NeedsReauth, NotFound, Unauthorized
from tests.harness import connect_hh
from tests.stacks import Stack, make_stack

pytestmark = pytest.mark.xdist_group("client_gateway")

UA = {"HH-User-Agent": "AuthgateTests/1.0 (tests@example.com)"}
BURST = 20


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with ExitStack() as cleanup:
        yield make_stack(tmp_path_factory.mktemp("client"), cleanup)


class CountingTransport(httpx.HTTPTransport):
    """httpx's own transport, counting the token requests that go through it."""

    def __init__(self) -> None:
        super().__init__()
        self.token_requests = 0
        self._lock = threading.Lock()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/token"):
            with self._lock:
                self.token_requests += 1
        return super().handle_request(request)


class GatheringTransport(httpx.HTTPTransport):
    """httpx's own transport; once armed, it hands back a refusal (403) only when ``parties``
    refusals have arrived, so every request of a burst holds its refusal before any goes on."""

    def __init__(self) -> None:
        super().__init__()
        self.barrier: threading.Barrier | None = None

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = super().handle_request(request)
        if self.barrier is not None and response.status_code == 403:
            self.barrier.wait()
        return response


def test_both_clients_give_the_vaults_token_and_sign_calls_to_the_api(stack: Stack):
    gw, hh_api = stack.gateway.url, f"{stack.devidp.url}/hh"
    connect_hh(gw, stack.api_key, owner="tg:12345", account="10000002")
    raw = httpx.get(f"{gw}/api/v1/connections/hh/tg:12345/token", headers=stack.auth).json()

    with authgate.Client(gw, stack.api_key) as vault:  # the name existing bots use
        token = vault.token("hh", owner="tg:12345")
        with httpx.Client(base_url=hh_api, headers=UA,
                          auth=vault.auth("hh", owner="tg:12345")) as hh:
            me = hh.get("/me")
    assert token.access_token == raw["access_token"]
    assert token.expires_in is not None and token.expires_in > 0
    assert me.json()["id"] == "10000002"

    async def in_a_loop() -> tuple[str, int]:
        async with AsyncClient(gw, stack.api_key) as avault, httpx.AsyncClient(
                base_url=hh_api, headers=UA, auth=avault.auth("hh", owner="tg:12345")) as ahh:
            atoken = await avault.token("hh", owner="tg:12345")
            return atoken.access_token, (await ahh.get("/me")).status_code

    assert anyio.run(in_a_loop) == (raw["access_token"], 200)


def test_the_clients_proxy_calls_the_api_through_the_gateway(stack: Stack):
    gw = stack.gateway.url
    connect_hh(gw, stack.api_key, owner="tg:proxy", account="10000002")
    with Client(gw, stack.api_key) as vault, vault.proxy("hh", owner="tg:proxy") as hh:
        me = hh.get("/me")
        vacancy = hh.get("/vacancies/1")  # the look-alike has none: its 404 comes back as is
    assert me.status_code == 200 and me.json()["id"] == "10000002"
    assert me.headers["content-type"].startswith("application/json")
    assert vacancy.status_code == 404

    async def in_a_loop() -> int:
        async with AsyncClient(gw, stack.api_key) as avault, \
                avault.proxy("hh", owner="tg:proxy") as ahh:
            return (await ahh.get("me")).status_code

    assert anyio.run(in_a_loop) == 200


def test_a_burst_refused_by_hh_asks_the_vault_once(stack: Stack):
    """The owner connected another account, and hh.ru refuses the token the bot still holds
    (hh.ru answers 403, hence ``refresh_on``): twenty requests, one question to the vault."""
    gw, owner = stack.gateway.url, "tg:burst"
    connect_hh(gw, stack.api_key, owner=owner, account="10000001")
    counting, gathering = CountingTransport(), GatheringTransport()
    vault = Client(gw, stack.api_key, transport=counting)
    hh = httpx.Client(base_url=f"{stack.devidp.url}/hh", headers=UA, transport=gathering,
                      auth=vault.auth("hh", owner=owner, refresh_on={401, 403}), timeout=60,
                      limits=httpx.Limits(max_connections=BURST + 5))
    assert hh.get("/me").json()["id"] == "10000001"
    assert counting.token_requests == 1

    connect_hh(gw, stack.api_key, owner=owner, account="10000002")
    stack.devidp.control("hh/expire", {"account_id": "10000001"})
    gathering.barrier = threading.Barrier(BURST, timeout=60)
    with concurrent.futures.ThreadPoolExecutor(BURST) as pool:
        answers = list(pool.map(lambda _: hh.get("/me"), range(BURST)))

    assert [a.status_code for a in answers] == [200] * BURST
    assert {a.json()["id"] for a in answers} == {"10000002"}
    assert counting.token_requests == 2
    hh.close()
    vault.close()


def test_needs_reauth_and_the_other_refusals_are_typed(stack_factory, tmp_path: Path):
    short: Stack = stack_factory()
    gw = short.gateway.url
    connect_hh(gw, short.api_key, owner="alice", account="10000001")
    short.devidp.control("hh/revoke", {"account_id": "10000001"})
    short.expire_tokens()  # the vault's refresh then meets the revocation

    with Client(gw, short.api_key) as vault:
        with pytest.raises(NeedsReauth) as caught:
            vault.token("hh", owner="alice")
        with pytest.raises(NotFound) as missing:
            vault.token("hh", owner="nobody")
        with httpx.Client(auth=vault.auth("hh", owner="alice")) as hh, \
                pytest.raises(authgate.errors.NeedsReauth):  # the server's name catches it too
            hh.get(f"{short.devidp.url}/hh/me", headers=UA)
    assert (caught.value.error, caught.value.status) == ("needs_reauth", 409)
    assert "revoked" in caught.value.detail
    assert (missing.value.error, missing.value.status) == ("not_found", 404)

    async def in_a_loop() -> list[type[Exception]]:
        seen: list[type[Exception]] = []
        for key in (short.api_key, "agk_not_a_key"):
            async with AsyncClient(gw, key) as avault:
                try:
                    await avault.token("hh", "alice")
                except (NeedsReauth, Unauthorized) as exc:
                    seen.append(type(exc))
        return seen

    assert anyio.run(in_a_loop) == [NeedsReauth, Unauthorized]
