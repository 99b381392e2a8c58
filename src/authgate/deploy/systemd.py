"""systemd units for authgate: the service, and a timer for ``authgate refresh --due``.

The units run as a dedicated static user (``authgate``) rather than ``DynamicUser=``: the
configuration file holds client secrets and must be readable by a stable group, and operators
run ``sudo -u authgate authgate token hh`` against the same data directory. Everything but the
state directory (and the directories of token export files) is read-only for the service.
"""

from __future__ import annotations

import re
import shutil
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from authgate.config import Settings
from authgate.deploy.templating import DeployError, check_path, render

_NAME = re.compile(r"^[a-z_][a-z0-9_-]{0,31}$")
_CALENDAR = re.compile(r"^[A-Za-z0-9*:/,. -]{1,64}$")


@dataclass(frozen=True, kw_only=True)
class UnitOptions:
    # The installed console script; by default the one of this Python environment.
    authgate_path: str = ""
    user: str = "authgate"
    unit: str = "authgate"
    config_path: str = "/etc/authgate/authgate.toml"
    # Extra writable directories, e.g. the parents of providers' export_file.
    read_write_paths: Sequence[str] = ()
    # Units to start after, e.g. "postgresql.service".
    after: Sequence[str] = ()
    # Timer: how often `authgate refresh --due` runs (systemd OnCalendar syntax).
    on_calendar: str = "*:0/5"


def default_authgate_path() -> str:
    """The ``authgate`` script next to this interpreter (a venv), else the one on PATH."""
    beside = Path(sys.executable).with_name("authgate")
    if beside.exists():
        return str(beside)
    return shutil.which("authgate") or "/usr/local/bin/authgate"


def unit_options_from_settings(settings: Settings, **overrides: object) -> UnitOptions:
    """Options whose writable paths include every provider's export_file directory."""
    dirs = sorted({str(p.export_file.parent) for p in settings.providers.values()
                   if p.export_file is not None and p.export_file.is_absolute()})
    after = ["postgresql.service"] if settings.database_url.startswith("postgres") else []
    values: dict[str, object] = {"read_write_paths": dirs, "after": after}
    values.update(overrides)
    return UnitOptions(**values)  # type: ignore[arg-type]


def render_service(opts: UnitOptions | None = None) -> str:
    """``authgate.service``: ``authgate serve``, hardened."""
    return render("authgate.service.j2", **_context(opts or UnitOptions()))


def render_refresh_service(opts: UnitOptions | None = None) -> str:
    """``authgate-refresh.service``: a oneshot ``authgate refresh --due``, started by the timer."""
    return render("authgate-refresh.service.j2", **_context(opts or UnitOptions()))


def render_refresh_timer(opts: UnitOptions | None = None) -> str:
    """``authgate-refresh.timer``: starts ``authgate-refresh.service`` every few minutes."""
    return render("authgate-refresh.timer.j2", **_context(opts or UnitOptions()))


def unit_files(opts: UnitOptions | None = None, *, timer: bool = False) -> dict[str, str]:
    """File name -> content, for writing into a directory."""
    opts = opts or UnitOptions()
    files = {f"{opts.unit}.service": render_service(opts)}
    if timer:
        files[f"{opts.unit}-refresh.service"] = render_refresh_service(opts)
        files[f"{opts.unit}-refresh.timer"] = render_refresh_timer(opts)
    return files


def _context(opts: UnitOptions) -> dict[str, object]:
    for what, value in (("user", opts.user), ("unit", opts.unit)):
        if not _NAME.match(value):
            raise DeployError(f"{what}: {value!r} is not a plain name")
    for unit in opts.after:
        if not re.fullmatch(r"[A-Za-z0-9@._-]+\.(service|target|socket|mount)", unit):
            raise DeployError(f"after: {unit!r} is not a unit name")
    if not _CALENDAR.match(opts.on_calendar):
        raise DeployError(f"on_calendar: {opts.on_calendar!r} is not a calendar expression")
    config_path = check_path(opts.config_path, "config path")
    return {
        "authgate": check_path(opts.authgate_path or default_authgate_path(), "authgate path"),
        "user": opts.user,
        "unit": opts.unit,
        "identifier": opts.unit,
        "state_dir": opts.unit,
        "config_path": config_path,
        "config_dir": str(Path(config_path).parent),
        "read_write_paths": [check_path(p, "read-write path") for p in opts.read_write_paths],
        "after": " ".join(opts.after),
        "on_calendar": opts.on_calendar,
        "every": "5 minutes" if opts.on_calendar == "*:0/5" else opts.on_calendar,
    }


__all__ = [
    "UnitOptions",
    "default_authgate_path",
    "render_refresh_service",
    "render_refresh_timer",
    "render_service",
    "unit_files",
    "unit_options_from_settings",
]
