"""``authgate``: the command line. Each command is a thin shell around the runtime's services."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from authgate.cli import init_cmd, vault_cmd
from authgate.cli.common import (
    ConfigOption,
    failures_exit,
    load,
    private_umask,
    settings_clock,
    shifted_clock,
)
from authgate.logs import configure_logging

app = typer.Typer(help="authgate: sign-in gateway and token vault.", no_args_is_help=True,
                  pretty_exceptions_enable=False, add_completion=False)

app.command("init")(init_cmd.init)
app.command("token")(vault_cmd.token)
app.command("status")(vault_cmd.status)
app.command("refresh")(vault_cmd.refresh)
app.command("connect")(vault_cmd.connect)
app.add_typer(vault_cmd.apikey_app, name="apikey")


@app.command()
def serve(config: ConfigOption = None) -> None:
    """Run the gateway (web, API and the refresh engine)."""
    import uvicorn

    from authgate.runtime import Runtime
    from authgate.web.app import create_app

    private_umask()
    settings = load(config)
    configure_logging(settings.log_format, settings.log_level)
    clock = settings_clock(settings)
    with failures_exit():
        runtime = Runtime.open(settings, clock=clock)
    uvicorn.run(create_app(runtime), host=settings.listen_host, port=settings.listen_port,
                access_log=False, log_config=None, proxy_headers=False, server_header=False,
                timeout_graceful_shutdown=10)


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

    configure_logging()
    address = f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
    clock = shifted_clock(address)
    run_from_cli(host=host, port=port, access_lifetime=access_lifetime,
                 state_file=state_file or None, gateway_url=gateway_url,
                 clock=clock.timestamp if clock else None)


def _register_optional() -> None:
    """Commands from feature packages that may not be installed in a trimmed build."""
    from authgate.cli import extensions

    extensions.register(app)


_register_optional()


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)


__all__ = ["app", "failures_exit", "main"]
