"""``authgate demo``: everything on one machine, nothing to configure.

Starts, in this process, the development identity provider (as "ZITADEL (demo)" and
"HeadHunter (demo)"), the gateway and a sample panel on three consecutive loopback ports, prints
where to go, and runs until Ctrl+C. A second run reuses the directory's data.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer

from authgate.cli.common import (
    EXIT_FAILURE,
    console,
    failures_exit,
    labelled,
    out,
    settings_clock,
)

PortOption = Annotated[int, typer.Option(
    "--port", help="base port: gateway PORT, identity provider PORT+1, sample panel PORT+2",
    min=1, max=65533)]
DirOption = Annotated[Path, typer.Option(
    "--dir", help="where the demo keeps its data (reused by the next run)")]
LifetimeOption = Annotated[int, typer.Option(
    "--hh-lifetime", help="seconds a HeadHunter (demo) access token lives (hh.ru: 14 days)",
    min=2)]
ResetOption = Annotated[bool, typer.Option(
    "--reset-admin-password", help="give the existing admin account a new initial password")]


def demo(port: PortOption = 8000, directory: DirOption = Path("authgate-demo"),
         hh_lifetime: LifetimeOption = 120, reset_admin_password: ResetOption = False) -> None:
    """Run the gateway, a development identity provider and a sample panel, ready to try."""
    import asyncio

    from authgate.config import load_settings
    from authgate.demo.admin import ensure_admin
    from authgate.demo.banner import banner
    from authgate.demo.panel import create_panel_app
    from authgate.demo.runner import PortBusy, Served, serve_all
    from authgate.demo.workspace import DemoLayout
    from authgate.devidp import create_devidp_app
    from authgate.logs import configure_logging
    from authgate.private_files import private_umask
    from authgate.runtime import Runtime
    from authgate.web.app import create_app

    private_umask()
    layout = DemoLayout(directory=directory.resolve(), base_port=port, hh_lifetime=hh_lifetime)
    configure_logging("kv", "info")
    # Every page view and every poll of the console would be a line: keep the terminal for
    # what is worth watching (refreshes, sign-ins, warnings).
    # Alembic's "Running upgrade ..." lines say nothing a person trying the demo needs.
    for noisy in ("authgate.access", "authgate.devidp.access", "uvicorn.error", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    with failures_exit():
        # The demo's own file only: a stray AUTHGATE_* variable must not bend it.
        settings = load_settings(layout.write_config(), environ={})
    clock = settings_clock(settings)  # the test suite's, when asked for; else the system's
    with failures_exit():
        runtime = Runtime.open(settings, clock=clock)
        admin = ensure_admin(runtime, reset=reset_admin_password)
    devidp_options = layout.devidp_options()
    if clock is not None:
        devidp_options.clock = clock.timestamp
    apps = [
        Served("devidp", create_devidp_app(devidp_options), layout.devidp_port),
        Served("gateway", create_app(runtime), layout.gateway_port),
        Served("panel", create_panel_app(gateway_url=layout.gateway_url,
                                         panel_url=layout.panel_url), layout.panel_port),
    ]

    def ready() -> None:
        out.print(banner(layout, admin), highlight=False, soft_wrap=True)

    try:
        asyncio.run(serve_all(apps, on_ready=ready))
    except PortBusy as exc:
        console.print(labelled("error", f"{exc}; choose another base port with --port"),
                      soft_wrap=True)
        raise typer.Exit(EXIT_FAILURE) from None
    out.print("authgate demo stopped; data kept in " + str(layout.directory), highlight=False)
