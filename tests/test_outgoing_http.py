"""The shared outgoing client, through its own transport against a real server on loopback."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import httpx
import pytest
import uvloop

from authgate.outgoing_http import outgoing_client

pytestmark = pytest.mark.anyio

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@asynccontextmanager
async def serving(handler: Handler) -> AsyncIterator[str]:
    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    try:
        yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    finally:
        server.close()


async def read_request(reader: asyncio.StreamReader) -> bytes | None:
    """One request's head (these tests send no bodies); None at the end of the connection."""
    try:
        return await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        return None


def client(timeout: float = 5.0) -> httpx.AsyncClient:
    return outgoing_client(timeout=httpx.Timeout(timeout), limits=httpx.Limits())


async def test_cookies_a_server_sets_are_never_sent_back() -> None:
    heads: list[bytes] = []

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while head := await read_request(reader):
            heads.append(head)
            writer.write(b"HTTP/1.1 200 OK\r\nSet-Cookie: owner=tg-1; Path=/\r\n"
                         b"Content-Length: 2\r\n\r\nok")
            await writer.drain()

    async with serving(handler) as url, client() as http:
        first = await http.get(f"{url}/token")
        second = await http.get(f"{url}/token")
    assert first.headers["set-cookie"].startswith("owner=tg-1")
    assert second.status_code == 200
    assert len(heads) == 2
    assert b"cookie:" not in heads[1].lower()
    assert not http.cookies


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
def test_a_keepalive_connection_the_server_closed_is_not_reused(loop: str) -> None:
    """The idle check: the server closes the pooled connection after answering (without saying
    so); the next request must go out on a new connection, not fail on the dead one."""
    connections: list[int] = []
    closed = asyncio.Event()

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(1)
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        await writer.drain()
        writer.close()
        await writer.wait_closed()
        closed.set()

    async def scenario() -> None:
        async with serving(handler) as url, client() as http:
            assert (await http.get(url)).text == "ok"
            await closed.wait()
            closed.clear()
            assert (await http.get(url)).text == "ok"
            await closed.wait()
        assert len(connections) == 2

    (uvloop.run if loop == "uvloop" else asyncio.run)(scenario())


async def test_connection_refused_is_httpx_connect_error() -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    async with client() as http:
        with pytest.raises(httpx.ConnectError):
            await http.get(f"http://127.0.0.1:{port}/")


async def test_a_server_that_does_not_answer_is_httpx_read_timeout() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # until the client gives up and closes

    async with serving(handler) as url, client(timeout=0.2) as http:
        with pytest.raises(httpx.ReadTimeout):
            await http.get(url)


async def test_a_body_cut_short_is_httpx_remote_protocol_error() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nok")
        await writer.drain()
        writer.close()

    async with serving(handler) as url, client() as http:
        with pytest.raises(httpx.RemoteProtocolError):
            await http.get(url)


async def test_requests_started_together_are_all_under_way_at_once() -> None:
    """Requests go through the pool's door one at a time, but each only until it is on its
    connection: the server holds every answer until all eight requests have arrived."""
    arrived: list[int] = []
    everyone = asyncio.Event()

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while await read_request(reader):
            arrived.append(1)
            if len(arrived) == 8:
                everyone.set()
            await everyone.wait()
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            await writer.drain()

    async with serving(handler) as url, client() as http:
        answers = await asyncio.gather(*(http.get(url) for _ in range(8)))
        # Once more: now over the eight pooled connections.
        everyone.clear()
        arrived.clear()
        again = await asyncio.gather(*(http.get(url) for _ in range(8)))
    assert [a.text for a in [*answers, *again]] == ["ok"] * 16


async def test_a_request_waiting_at_the_door_keeps_its_pool_timeout() -> None:
    """One connection allowed: the first request holds it, the second waits in the pool for it
    (and keeps the door shut); the third gives up after its own pool timeout."""
    release, arrived = asyncio.Event(), asyncio.Event()

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while await read_request(reader):
            arrived.set()
            await release.wait()
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            await writer.drain()

    async with serving(handler) as url, outgoing_client(
            timeout=httpx.Timeout(5.0), limits=httpx.Limits(max_connections=1)) as http:
        first = asyncio.create_task(http.get(url))
        await arrived.wait()
        second = asyncio.create_task(http.get(url))
        for _ in range(20):  # in-process: a few turns put it in the pool, waiting
            await asyncio.sleep(0)
        with pytest.raises(httpx.PoolTimeout):
            await http.get(url, timeout=httpx.Timeout(5.0, pool=0.2))
        assert not first.done() and not second.done()
        release.set()
        assert [(await first).text, (await second).text] == ["ok", "ok"]
