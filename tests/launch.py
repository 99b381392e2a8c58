"""The child side of ``tests.harness.Forked``: turn a freshly forked copy of the preloaded fork
server into an ``authgate ARGS`` process. Kept apart (and tiny) so that the fork server can
import it without pytest."""

from __future__ import annotations

import os
import sys


def run_authgate(args: list[str], env: dict[str, str], log: str, cwd: str,
                 stdout: str | None = None) -> None:
    """``authgate ARGS``: stderr (and stdout, unless ``stdout`` names a file of its own)
    appended to ``log``."""
    os.setsid()  # a session and process group of its own, ended as one
    for path, targets in ((log, (2,) if stdout else (1, 2)), (stdout, (1,))):
        if path is None:
            continue
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        for target in targets:
            os.dup2(fd, target)
        os.close(fd)
    os.environ.clear()
    os.environ.update(env)
    os.chdir(cwd)
    sys.argv = ["authgate", *args]
    from authgate.cli.main import main

    main()
