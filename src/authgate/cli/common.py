"""What every command shares: the ``--config`` option, loading settings, exit codes."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from typer.core import TyperGroup

from authgate.clock import OffsetClock, ShiftedClockRefused, shifted_clock_from_environ
from authgate.errors import AuthgateError, ConfigError, DatabaseUnavailable

if TYPE_CHECKING:
    from rich.console import Console
    from rich.status import Status
    from rich.text import Text

    from authgate.config import Settings
    from authgate.runtime import Runtime

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2

# No markup, emoji codes or highlighting in anything printed: usernames, emails, audit rows and
# paths come from users (a "[/x]" would crash Rich, a "[link=...]" print a clickable link).
# Styling is given explicitly, as rich.text.Text (see ``labelled``).
class LazyConsole:
    """A Rich console made on first use: ``authgate token``'s plain answer is a print(), and a
    bot shelling out for each token should not pay for loading Rich (a third of its start-up)."""

    def __init__(self, *, stderr: bool = False) -> None:
        self._stderr = stderr
        self._console: Console | None = None

    @property
    def console(self) -> Console:
        if self._console is None:
            from rich.console import Console

            self._console = Console(stderr=self._stderr, markup=False, emoji=False,
                                    highlight=False)
        return self._console

    def print(self, *objects: Any, **options: Any) -> None:
        self.console.print(*objects, **options)

    def print_json(self, text: str) -> None:
        self.console.print_json(text)

    def status(self, status: str) -> Status:
        return self.console.status(status)

    @property
    def is_terminal(self) -> bool:
        return self.console.is_terminal

    @property
    def width(self) -> int:
        return self.console.width

    @width.setter
    def width(self, width: int) -> None:
        self.console.width = width


console = LazyConsole(stderr=True)
out = LazyConsole()


def command_group(**options: Any) -> typer.Typer:
    """A Typer app whose help texts are plain text: "[/path]" in a help is not Rich markup."""
    return typer.Typer(rich_markup_mode=None, **options)


class FailuresExitGroup(TyperGroup):
    """The root command group: whatever a command lets escape of authgate's errors and database
    outages ends as one line and an exit code (``failures_exit``), never a traceback."""

    def invoke(self, ctx: Any) -> Any:
        with failures_exit():
            return super().invoke(ctx)


def labelled(label: str, detail: object = "", style: str = "red") -> Text:
    """``label: detail`` with the label styled; ``detail`` is printed as it is."""
    from rich.text import Text

    return Text.assemble((label, style), f": {detail}" if detail != "" else "")

ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", "-c",
                 help="authgate.toml (default: $AUTHGATE_CONFIG or ./authgate.toml)",
                 envvar="AUTHGATE_CONFIG", show_envvar=False),
]

T = TypeVar("T")

# The settings the running command loaded: a database outage names their database.
_loaded: ContextVar[Settings | None] = ContextVar("authgate_cli_settings", default=None)


def load(config: Path | None) -> Settings:
    """Load settings or exit 2 with the message that names the key and the file."""
    return _load(config, remembered=False)


def load_and_remember(config: Path | None) -> Settings:
    """``load``, and leave the record that lets ``authgate token`` answer from these settings
    without validating them again (``config_stamp``)."""
    return _load(config, remembered=True)


def _load(config: Path | None, *, remembered: bool) -> Settings:
    from authgate.config import settings_from
    from authgate.config_sources import read_config_sources
    from authgate.config_stamp import fingerprint, remember

    with failures_exit():
        sources = read_config_sources(config, os.environ)
        # Taken before validating: a secret file that changes meanwhile leaves a record that
        # matches nothing, never one that matches what was not validated.
        checked = fingerprint(sources) if remembered else None
        settings = settings_from(sources)
    _loaded.set(settings)
    if checked is not None:
        remember(settings, checked)
    return settings


def report_config_error(exc: ConfigError) -> None:
    """One problem per line, never wrapped: people grep for the key. Brackets in a detail
    (`authgate[postgres]`, a TOML list) are text, not rich markup."""
    for problem in exc.detail.split("; "):
        console.print(labelled("configuration error", problem), soft_wrap=True)


@contextmanager
def failures_exit() -> Iterator[None]:
    """Turn authgate errors into a readable line and exit 1 (2 for configuration errors)."""
    try:
        yield
    except ConfigError as exc:
        report_config_error(exc)
        raise typer.Exit(EXIT_USAGE) from None
    except AuthgateError as exc:
        console.print(labelled(exc.error, exc.detail), soft_wrap=True)
        raise typer.Exit(EXIT_FAILURE) from None
    except Exception as exc:
        outage = database_outage(exc, _loaded.get())
        if outage is None:
            raise
        console.print(labelled(outage.error, outage.detail), soft_wrap=True)
        raise typer.Exit(EXIT_FAILURE) from None


def database_outage(exc: Exception, settings: Settings | None) -> DatabaseUnavailable | None:
    """``exc`` as the database outage it is (stopped, unreachable, refusing the login), naming
    the database without its password; None for any other error."""
    if "sqlalchemy" not in sys.modules:  # the CLI starts without it; no database was opened
        return None
    from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

    if not isinstance(exc, OperationalError | InterfaceError) and not (
            isinstance(exc, DBAPIError) and exc.connection_invalidated):
        return None
    # The driver's first line says why (connection refused, authentication failed); the rest
    # of str(exc) is SQL, parameters and a link.
    lines = str(getattr(exc, "orig", None) or "").strip().splitlines()
    reason = lines[0].strip() if lines else type(exc).__name__
    where = "the database"
    if settings is not None:
        shown, password = shown_database(settings)
        where += f" {shown}"
        if password:
            reason = reason.replace(password, "***")
    return DatabaseUnavailable(f"{where} does not answer ({reason}); check that it is running "
                               "and reachable from here (database_url), then run the command "
                               "again")


def shown_database(settings: Settings) -> tuple[str, str | None]:
    """The configured database's URL without its password, and that password (to keep it out
    of anything printed)."""
    from sqlalchemy.engine import URL, make_url
    from sqlalchemy.exc import ArgumentError

    if not settings.database_url:
        return f"sqlite:///{settings.data_dir / 'authgate.db'}", None
    try:
        url = make_url(settings.database_url)
    except ArgumentError:  # unparsable: say which setting, show nothing of it
        return "(database_url)", None
    password = url.password or url.query.get("password")
    shown = URL.create(url.drivername, username=url.username, host=url.host, port=url.port,
                       database=url.database,
                       query={k: v for k, v in url.query.items() if k != "password"})
    return shown.render_as_string(hide_password=False), (
        password if isinstance(password, str) else None)


def require_api_provider(runtime: Runtime, name: str) -> None:
    """A PROVIDER argument that names no configured API provider is a usage error (exit 2),
    not a failure: say which ones there are."""
    if name not in runtime.vault.providers:
        known = ", ".join(sorted(runtime.vault.providers)) or "none"
        console.print(labelled("usage", f"no API provider named {name!r} is configured "
                                        f"(API providers: {known})"), soft_wrap=True)
        raise typer.Exit(EXIT_USAGE)


def shifted_clock(*urls: str) -> OffsetClock | None:
    """The test suite's shifted clock, when its variables ask for one (see authgate.clock);
    exits 2 when they are set where they must not take effect (production)."""
    try:
        clock = shifted_clock_from_environ(os.environ, *urls)
    except ShiftedClockRefused as exc:
        console.print(labelled("refused", exc), soft_wrap=True)
        raise typer.Exit(EXIT_USAGE) from None
    if clock is not None:
        console.print(labelled("test clock", f"time is shifted by the offset in {clock.path} "
                               "(tests only)", "yellow"), soft_wrap=True)
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
    from authgate.private_files import private_umask

    private_umask()
    settings = load(config)
    return runtime_for(settings, settings_clock(settings))


def runtime_for(settings: Settings, clock: OffsetClock | None) -> Runtime:
    """``open_runtime`` for settings already loaded (and their clock already chosen)."""
    from authgate.runtime import Runtime

    with failures_exit():
        return Runtime.open(settings, clock=clock)


def run(fn: Callable[[], T]) -> T:
    with failures_exit():
        return fn()
