"""``authgate``: the command line. Each command is a thin shell around the runtime's services."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer
from typer.core import TyperOption

from authgate import __version__
from authgate.cli import (
    demo_cmd,
    deploy_cmd,
    init_cmd,
    serve_cmd,
    users_cmd,
    vault_cmd,
    webhooks_cmd,
)
from authgate.cli.common import FailuresExitGroup, command_group, failures_exit, shifted_clock

app = command_group(help="authgate: sign-in gateway and token vault.", no_args_is_help=True,
                    pretty_exceptions_enable=False, add_completion=False, cls=FailuresExitGroup)


def _flags_without_a_type() -> None:
    """Typer's help puts ``<bool>`` beside every flag (``--json <bool>``), which reads as if the
    flag took a value: show a type only for options that take one."""
    shown = TyperOption.display_type_rich

    def display_type_rich(self: TyperOption, ctx: Any) -> str | None:
        return None if self.is_flag else shown(self, ctx)

    setattr(TyperOption, "display_type_rich", display_type_rich)  # noqa: B010


_flags_without_a_type()


def _version(value: bool) -> None:
    if value:
        print(f"authgate {__version__}")
        raise typer.Exit()


@app.callback()
def _main(version: Annotated[bool, typer.Option(
        "--version", callback=_version, is_eager=True, help="print the version and exit")]
          = False) -> None:
    """authgate: sign-in gateway and token vault."""

app.command("init")(init_cmd.init)
app.command("serve")(serve_cmd.serve)
app.command("token")(vault_cmd.token)
app.command("status")(vault_cmd.status)
app.command("refresh")(vault_cmd.refresh)
app.command("connect")(vault_cmd.connect)
app.add_typer(vault_cmd.apikey_app, name="apikey")
app.add_typer(deploy_cmd.deploy_app, name="deploy")
app.add_typer(webhooks_cmd.webhooks_app, name="webhooks")
app.command("doctor")(deploy_cmd.doctor)
app.command("demo")(demo_cmd.demo)
users_cmd.register(app)


@app.command()
def devidp(
    host: Annotated[str, typer.Option(help="interface (loopback by default)")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port")] = 9000,
    access_lifetime: Annotated[int, typer.Option(
        help="lifetime of hh access tokens in seconds (hh.ru: 1209600)")] = 1209600,
    state_file: Annotated[str, typer.Option(help="keep state in this JSON file")] = "",
    gateway_url: Annotated[str, typer.Option(
        help="the gateway whose callbacks are registered")] = "http://127.0.0.1:8000",
) -> None:
    """Serve the development identity provider (an OIDC issuer and an hh.ru look-alike)."""
    from authgate.devidp.cli import run_from_cli
    from authgate.logs import configure_logging

    configure_logging()
    address = f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
    clock = shifted_clock(address)
    run_from_cli(host=host, port=port, access_lifetime=access_lifetime,
                 state_file=state_file or None, gateway_url=gateway_url,
                 clock=clock.timestamp if clock else None)


def main() -> None:
    """Run the Typer app: what the ``authgate`` program (``authgate.cli:main``) does when it
    has no quick answer."""
    try:
        app(prog_name="authgate")
    except KeyboardInterrupt:
        sys.exit(130)


__all__ = ["app", "failures_exit", "main"]
