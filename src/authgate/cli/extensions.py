"""Commands contributed by feature packages (sign-in, deploy, demo), registered in one place."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    from authgate.cli.deploy_cmd import deploy_app, doctor

    app.add_typer(deploy_app, name="deploy")
    app.command("doctor")(doctor)
    from authgate.cli.demo_cmd import demo

    app.command("demo")(demo)
    from authgate.cli import users_cmd

    users_cmd.register(app)
