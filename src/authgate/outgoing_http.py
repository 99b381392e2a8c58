"""The one HTTP client authgate sends its own requests with: providers' token and account
endpoints, the OpenID provider, webhooks, the Telegram Bot API.

Three things differ from httpx's defaults; the first because one client serves every owner, the
other two because a refresh storm sends many requests at once:

* **No cookie jar.** A provider answering one owner's refresh with ``Set-Cookie`` must not have
  that cookie sent with the next owner's requests; no endpoint we call needs cookies. (Go's
  default client keeps none either.)
* **A cheaper idle check.** Before and after every request, httpcore's pool asks each idle
  pooled connection whether its socket is readable: a server that closed a keep-alive
  connection leaves it readable (at its end). Through httpcore's anyio stream that ask builds
  anyio's attribute table and a new ``select.poll`` object every time; in a refresh storm, with
  16 connections pooled, it was a fifth of the event loop's CPU. Here each connection keeps one
  poll object registered for its socket while it is open: the same question, one system call.
* **Requests enter the pool one at a time.** httpcore hands a request the first idle
  connection without reserving it; requests started together (the refresh engine starts a
  claimed batch at once) are all handed the same one, and all but the first go round the pool
  again, each round asking every connection the idle check above. Here a request waits at the
  pool's door until the one before it is on its connection (sending its headers, or connecting
  a new one): a burst then costs what the same requests cost one by one (in a refresh storm,
  two rounds of the pool per request instead of four). The wait is a few event-loop turns. A
  request that waits for a free connection (all ``max_connections`` busy) keeps the door shut,
  as the ones behind it would wait for a connection too; the door counts against each
  request's pool timeout.

httpx's own transport takes no network backend, so ``PooledTransport`` is a transport of our
own on httpcore's pool (the extension points both libraries document: a network backend, and
the ``trace`` extension that tells when a request is on its connection), doing what httpx's does
for a pool without a proxy: requests and responses passed through, httpcore's errors raised as
httpx's. Proxies from the environment still apply: the client mounts httpx's proxy transports
for them as usual.
"""

from __future__ import annotations

import select
import ssl
from collections.abc import AsyncIterator, Iterable, Iterator
from contextlib import contextmanager
from http.cookiejar import CookieJar
from typing import Any

import anyio
import httpcore
import httpx

# The first event httpcore traces once a request has a connection of its own: a new connection
# starts connecting, or an idle one starts sending the request.
_ON_ITS_CONNECTION = frozenset({"connection.connect_tcp.started",
                                "connection.connect_unix_socket.started",
                                "http11.send_request_headers.started",
                                "http2.send_request_headers.started"})

# httpcore's errors and the httpx errors callers catch; the most specific match wins.
_ERRORS: dict[type[Exception], type[httpx.HTTPError]] = {
    httpcore.TimeoutException: httpx.TimeoutException,
    httpcore.ConnectTimeout: httpx.ConnectTimeout,
    httpcore.ReadTimeout: httpx.ReadTimeout,
    httpcore.WriteTimeout: httpx.WriteTimeout,
    httpcore.PoolTimeout: httpx.PoolTimeout,
    httpcore.NetworkError: httpx.NetworkError,
    httpcore.ConnectError: httpx.ConnectError,
    httpcore.ReadError: httpx.ReadError,
    httpcore.WriteError: httpx.WriteError,
    httpcore.ProxyError: httpx.ProxyError,
    httpcore.UnsupportedProtocol: httpx.UnsupportedProtocol,
    httpcore.ProtocolError: httpx.ProtocolError,
    httpcore.LocalProtocolError: httpx.LocalProtocolError,
    httpcore.RemoteProtocolError: httpx.RemoteProtocolError,
}


@contextmanager
def _as_httpx_errors() -> Iterator[None]:
    try:
        yield
    except Exception as exc:
        mapped: type[httpx.HTTPError] | None = None
        for source, target in _ERRORS.items():
            if isinstance(exc, source) and (mapped is None or issubclass(target, mapped)):
                mapped = target
        if mapped is None:
            raise
        raise mapped(str(exc)) from exc


class NoCookies(CookieJar):
    """A jar that keeps nothing and sends nothing."""

    def add_cookie_header(self, request: Any) -> None:
        return None

    def extract_cookies(self, response: Any, request: Any) -> None:
        return None


class _PolledStream(httpcore.AsyncNetworkStream):
    """httpcore's anyio stream, with the idle check on one poll object kept for its socket."""

    def __init__(self, inner: httpcore.AsyncNetworkStream) -> None:
        self._inner = inner
        self._poll: select.poll | None = None

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return await self._inner.read(max_bytes, timeout)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        await self._inner.write(buffer, timeout)

    async def aclose(self) -> None:
        self._poll = None  # its descriptor is closed next, and may be reused by another socket
        await self._inner.aclose()

    async def start_tls(self, ssl_context: ssl.SSLContext, server_hostname: str | None = None,
                        timeout: float | None = None) -> httpcore.AsyncNetworkStream:
        return _PolledStream(await self._inner.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str) -> Any:
        if info != "is_readable":
            return self._inner.get_extra_info(info)
        if self._poll is None:
            sock = self._inner.get_extra_info("socket")
            fd = -1 if sock is None else sock.fileno()
            if fd < 0:
                return True  # no socket left: as httpcore, as if the next read ended the stream
            self._poll = select.poll()
            self._poll.register(fd, select.POLLIN)
        return bool(self._poll.poll(0))


class _PolledBackend(httpcore.AsyncNetworkBackend):
    def __init__(self) -> None:
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                          local_address: str | None = None,
                          socket_options: Iterable[Any] | None = None,
                          ) -> httpcore.AsyncNetworkStream:
        return _PolledStream(await self._inner.connect_tcp(
            host, port, timeout, local_address, socket_options))

    async def connect_unix_socket(self, path: str, timeout: float | None = None,
                                  socket_options: Iterable[Any] | None = None,
                                  ) -> httpcore.AsyncNetworkStream:
        return _PolledStream(await self._inner.connect_unix_socket(path, timeout, socket_options))

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class _ResponseStream(httpx.AsyncByteStream):
    def __init__(self, inner: Any) -> None:
        self._inner = inner

    async def __aiter__(self) -> AsyncIterator[bytes]:
        with _as_httpx_errors():
            async for part in self._inner:
                yield part

    async def aclose(self) -> None:
        await self._inner.aclose()


class PooledTransport(httpx.AsyncBaseTransport):
    """HTTP/1.1 over httpcore's connection pool, with the polled idle check and one request at
    a time through the pool's door."""

    def __init__(self, limits: httpx.Limits) -> None:
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=_PolledBackend())
        self._door = anyio.Lock(fast_acquire=True)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        assert isinstance(request.stream, httpx.AsyncByteStream)
        url = request.url
        extensions = dict(request.extensions)
        door = _Door(self._door, extensions)
        core_request = httpcore.Request(
            method=request.method,
            url=httpcore.URL(scheme=url.raw_scheme, host=url.raw_host, port=url.port,
                             target=url.raw_path),
            headers=request.headers.raw, content=request.stream, extensions=extensions)
        with _as_httpx_errors():
            await door.enter(extensions.get("timeout", {}).get("pool"))
            try:
                response = await self._pool.handle_async_request(core_request)
            finally:
                door.leave()
        return httpx.Response(status_code=response.status, headers=response.headers,
                              stream=_ResponseStream(response.stream),
                              extensions=response.extensions)

    async def aclose(self) -> None:
        await self._pool.aclose()


class _Door:
    """One request's pass through the pool's door: held from ``enter`` until httpcore traces
    that the request is on its connection (or it ends before that)."""

    def __init__(self, lock: anyio.Lock, extensions: dict[str, Any]) -> None:
        self._lock = lock
        self._extensions = extensions
        self._held = False

    async def enter(self, timeout: float | None) -> None:
        if "trace" in self._extensions:
            return  # the caller traces this request itself: it goes in without the door
        if self._lock.locked():
            try:
                with anyio.fail_after(timeout):
                    await self._lock.acquire()
            except TimeoutError:
                raise httpcore.PoolTimeout("no turn at the connection pool in time") from None
        else:
            self._lock.acquire_nowait()
        self._held = True
        self._extensions["trace"] = self._trace

    async def _trace(self, event: str, info: dict[str, Any]) -> None:
        if event in _ON_ITS_CONNECTION:
            self.leave()

    def leave(self) -> None:
        if self._held:
            self._held = False
            # httpcore reads the extension as each phase starts: no further calls here.
            self._extensions.pop("trace", None)
            self._lock.release()


def outgoing_client(*, timeout: httpx.Timeout, limits: httpx.Limits,
                    transport: httpx.AsyncBaseTransport | None = None) -> httpx.AsyncClient:
    """The shared client; ``transport`` replaces the pooled one (tests' in-process apps)."""
    return httpx.AsyncClient(timeout=timeout, limits=limits, follow_redirects=False,
                             transport=transport or PooledTransport(limits),
                             cookies=NoCookies())
