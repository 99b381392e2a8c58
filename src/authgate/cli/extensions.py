"""Commands contributed by feature packages (sign-in, deploy, demo), registered in one place."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    del app
