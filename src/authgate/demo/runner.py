"""Three uvicorn servers on one event loop: devidp, gateway, sample panel.

One process rather than three: one Ctrl+C stops everything, nothing is left behind, and the demo
starts in about a second. The sockets are bound before any server starts, so a busy port is a
clear message instead of a half-started demo.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import uvicorn
from starlette.types import ASGIApp

from authgate.demo.workspace import HOST


class PortBusy(Exception):
    def __init__(self, port: int, reason: str) -> None:
        super().__init__(f"port {port} on {HOST} is not free ({reason})")
        self.port = port


class _Server(uvicorn.Server):
    """A uvicorn server that leaves signals to the demo: uvicorn would install one handler per
    server and the last one would win, leaving the other two running after Ctrl+C."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@dataclass
class Served:
    name: str
    app: ASGIApp
    port: int


def bind(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((HOST, port))
    except OSError as exc:
        sock.close()
        raise PortBusy(port, exc.strerror or str(exc)) from None
    sock.set_inheritable(True)
    return sock


async def serve_all(apps: list[Served], *, on_ready: Callable[[], None]) -> None:
    """Serve until SIGINT/SIGTERM, then shut every server down gracefully (a second Ctrl+C
    forces it)."""
    sockets: list[socket.socket] = []
    try:
        for served in apps:
            sockets.append(bind(served.port))
    except PortBusy:
        for sock in sockets:
            sock.close()
        raise
    servers = [
        _Server(uvicorn.Config(served.app, host=HOST, port=served.port, access_log=False,
                               log_config=None, proxy_headers=False, server_header=False,
                               lifespan="on", timeout_graceful_shutdown=5))
        for served in apps
    ]

    def stop() -> None:
        for server in servers:
            if server.should_exit:
                server.force_exit = True
            server.should_exit = True

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop)
    try:
        tasks = [asyncio.create_task(server.serve(sockets=[sock]))
                 for server, sock in zip(servers, sockets, strict=True)]
        while not all(server.started for server in servers):
            if any(task.done() for task in tasks):
                stop()  # one failed to start: do not leave the others running
                break
            await asyncio.sleep(0.02)
        else:
            on_ready()
        await asyncio.gather(*tasks)
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        for sock in sockets:
            sock.close()
