"""The command line starts light: a bot runs ``authgate token hh`` for every token it needs, and
``authgate --help`` should answer at once. The heavy libraries load inside the commands that use
them; this keeps it so (a top-level import added anywhere in the CLI's import chain fails here).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

# Rich and asyncio too: ``authgate token``'s plain answer is a print() from a synchronous read.
HEAVY = ("rich", "asyncio", "sqlalchemy", "alembic", "jinja2", "starlette", "uvicorn", "httpx",
         "pydantic", "joserfc", "argon2", "prometheus_client", "authgate.runtime", "authgate.demo",
         "authgate.deploy", "authgate.signin", "authgate.vault.service", "authgate.vault.engine",
         "authgate.vault.connections", "authgate.store", "authgate.web")


def test_importing_the_command_line_loads_none_of_the_heavy_libraries() -> None:
    code = ("import json, sys; import authgate.cli.main; "
            "print(json.dumps(sorted(sys.modules)))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env={**os.environ}, timeout=120, check=True)
    loaded = json.loads(result.stdout)
    found = [m for m in loaded if any(m == h or m.startswith(h + ".") for h in HEAVY)]
    assert not found, found


def test_the_command_line_spares_pydantic_its_plugin_scan(tmp_path: Path) -> None:
    """Pydantic scans every installed package's entry points for plugins the first time it
    builds a model, unless told not to: a tenth of ``authgate token``'s start-up."""
    code = ("import sys; from authgate.cli import main\n"
            f"sys.argv = ['authgate', 'token', 'hh', '--config', {str(tmp_path / 'none.toml')!r}]\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            "import pydantic.plugin._loader as loader\n"
            "print('authgate.config' in sys.modules, loader._plugins is None)")
    env = {k: v for k, v in os.environ.items() if k != "PYDANTIC_DISABLE_PLUGINS"}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env=env, timeout=120, check=True)
    assert result.stdout.split() == ["True", "True"], result.stderr[-2000:]
