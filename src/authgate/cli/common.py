"""What every command shares: the ``--config`` option, loading settings, exit codes."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from rich.console import Console

from authgate.clock import OffsetClock, ShiftedClockRefused, shifted_clock_from_environ
from authgate.config import Settings, load_settings
from authgate.errors import AuthgateError, ConfigError
from authgate.runtime import Runtime

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2

console = Console(stderr=True)
out = Console()

ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", "-c",
                 help="authgate.toml (default: $AUTHGATE_CONFIG or ./authgate.toml)",
                 envvar="AUTHGATE_CONFIG", show_envvar=False),
]

T = TypeVar("T")


def load(config: Path | None) -> Settings:
    """Load settings or exit 2 with the message that names the key and the file."""
    try:
        return load_settings(config)
    except ConfigError as exc:
        report_config_error(exc)
        raise typer.Exit(EXIT_USAGE) from None


def report_config_error(exc: ConfigError) -> None:
    """One problem per line, never wrapped: people grep for the key."""
    for problem in exc.detail.split("; "):
        console.print(f"[red]configuration error[/red]: {problem}", highlight=False,
                      soft_wrap=True)


@contextmanager
def failures_exit() -> Iterator[None]:
    """Turn authgate errors into a readable line and exit 1 (2 for configuration errors)."""
    try:
        yield
    except ConfigError as exc:
        report_config_error(exc)
        raise typer.Exit(EXIT_USAGE) from None
    except AuthgateError as exc:
        console.print(f"[red]{exc.error}[/red]: {exc.detail}", highlight=False, soft_wrap=True)
        raise typer.Exit(EXIT_FAILURE) from None


def require_api_provider(runtime: Runtime, name: str) -> None:
    """A PROVIDER argument that names no configured API provider is a usage error (exit 2),
    not a failure: say which ones there are."""
    if name not in runtime.vault.providers:
        known = ", ".join(sorted(runtime.vault.providers)) or "none"
        console.print(f"[red]usage[/red]: no API provider named {name!r} is configured "
                      f"(API providers: {known})", highlight=False, soft_wrap=True)
        raise typer.Exit(EXIT_USAGE)


def private_umask() -> None:
    """Everything authgate creates (database, WAL files, keys) is readable by its user only."""
    os.umask(0o077)


def shifted_clock(*urls: str) -> OffsetClock | None:
    """The test suite's shifted clock, when its variables ask for one (see authgate.clock);
    exits 2 when they are set where they must not take effect (production)."""
    try:
        clock = shifted_clock_from_environ(os.environ, *urls)
    except ShiftedClockRefused as exc:
        console.print(f"[red]refused[/red]: {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(EXIT_USAGE) from None
    if clock is not None:
        console.print(f"[yellow]test clock[/yellow]: time is shifted by the offset in "
                      f"{clock.path} (tests only)", highlight=False, soft_wrap=True)
    return clock


def settings_clock(settings: Settings) -> OffsetClock | None:
    """``shifted_clock`` for the gateway of ``settings`` (its public URL and listen address)."""
    host = settings.listen_host
    listen = f"http://[{host}]:{settings.listen_port}" if ":" in host else (
        f"http://{host}:{settings.listen_port}")
    return shifted_clock(settings.public_url, listen)


def open_runtime(config: Path | None) -> Runtime:
    """Settings, data directory, migrated database and keyring, for a command; exits 2 or 1
    with a readable line when that fails."""
    private_umask()
    settings = load(config)
    clock = settings_clock(settings)
    with failures_exit():
        return Runtime.open(settings, clock=clock)


def run(fn: Callable[[], T]) -> T:
    with failures_exit():
        return fn()
