"""``authgate serve [--listen HOST:PORT] [--workers N]``: the gateway under uvicorn.

With more than one worker, uvicorn starts each worker process from ``worker_app`` (an import
string), and each opens its own runtime from the same configuration: the options travel to the
workers as ``AUTHGATE_CONFIG`` and ``AUTHGATE_LISTEN``. Everything the workers share lives in
data_dir and the database (sessions, revocations, CSRF key, the refresh claims), so any worker
can answer any request.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

import typer

from authgate.cli.common import (
    ConfigOption,
    failures_exit,
    load,
    load_and_remember,
    settings_clock,
)

LISTEN_ENV = "AUTHGATE_LISTEN"

ListenOption = Annotated[str | None, typer.Option(
    "--listen", metavar="HOST:PORT", help="where to listen (default: the file's `listen`)")]
WorkersOption = Annotated[int, typer.Option(
    "--workers", min=1, max=64, help="worker processes (uvicorn workers; default 1)")]

# How long an idle keep-alive connection stays open (uvicorn's default, stated: the generated
# nginx site keeps its idle connections to the gateway for less, so that nginx never sends a
# request on one the gateway is closing).
KEEPALIVE_SECONDS = 5
# uvloop and httptools (uvicorn[standard]): the asyncio loop and HTTP parser in C; measured 2-2.5x
# the requests per second of asyncio + h11 on /auth/verify (bench/protected_page.py).
_UVICORN: dict[str, Any] = {"access_log": False, "log_config": None, "proxy_headers": False,
                            "server_header": False, "timeout_graceful_shutdown": 10,
                            "timeout_keep_alive": KEEPALIVE_SECONDS,
                            "loop": "uvloop", "http": "httptools"}


def worker_app() -> Any:
    """One worker's application (uvicorn calls it in each worker process)."""
    from authgate.logs import configure_logging
    from authgate.private_files import private_umask
    from authgate.runtime import Runtime
    from authgate.web.app import create_app

    private_umask()
    settings = load(None)
    configure_logging(settings.log_format, settings.log_level)
    clock = settings_clock(settings)
    with failures_exit():
        return create_app(Runtime.open(settings, clock=clock))


def serve(config: ConfigOption = None, listen: ListenOption = None,
          workers: WorkersOption = 1) -> None:
    """Run the gateway (web, API and the refresh engine)."""
    import uvicorn

    from authgate.config_sources import CONFIG_ENV
    from authgate.logs import configure_logging
    from authgate.private_files import private_umask
    from authgate.store.db import database_url
    from authgate.store.server_lock import hold_server_lock

    if config is not None:
        os.environ[CONFIG_ENV] = str(Path(config).resolve())
    if listen is not None:
        os.environ[LISTEN_ENV] = listen
    private_umask()
    # Checked here, so that a bad value stops before any worker starts.
    settings = load_and_remember(None)
    configure_logging(settings.log_format, settings.log_level)
    with failures_exit():  # a second server on one SQLite file: refused, exit 2
        lock = hold_server_lock(database_url(settings.database_url, settings.data_dir))
    if workers == 1:
        uvicorn.run(worker_app(), host=settings.listen_host, port=settings.listen_port,
                    **_UVICORN)
    else:
        settings_clock(settings)  # a test clock where it must not take effect: exit 2 here
        uvicorn.run(f"{__name__}:worker_app", factory=True, workers=workers,
                    host=settings.listen_host, port=settings.listen_port, **_UVICORN)
    if lock is not None:
        lock.close()
