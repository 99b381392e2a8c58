"""The command line, ``authgate``: Typer commands in ``cli.main``, each a thin shell around the
runtime's services."""

from __future__ import annotations

import os
import sys


def main() -> None:
    """The ``authgate`` program: a plain ``authgate token PROVIDER`` with a token to hand out
    as stored is answered before Typer loads (``token_quick``); everything else runs the app."""
    # Pydantic looks for plugins of its own the first time it builds a model (the config's): a
    # scan of every installed package's entry points, a tenth of `authgate token`'s start-up.
    # authgate uses none; an explicit PYDANTIC_DISABLE_PLUGINS in the environment still wins.
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    if sys.argv[1:2] == ["token"]:
        from authgate.cli.token_quick import answer_quickly

        if answer_quickly(sys.argv[1:]):
            return
    from authgate.cli.main import main as run_app

    run_app()
