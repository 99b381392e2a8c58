"""Commands while PostgreSQL is stopped: one line that names the database (never its password)
and says what to do, exit 1 — no traceback."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.harness import AUTHGATE, bound, run_cli, skip_unless_installed
from tests.postgres import pg_bin, postgres_instance

pytestmark = [pytest.mark.postgres, skip_unless_installed(pg_bin() is not None, "PostgreSQL")]

PASSWORD = "pw-never-printed-7f3a"  # the server trusts loopback: the password is only carried


def _assert_outage_line(result: subprocess.CompletedProcess[str], shown_url: str) -> None:
    command = " ".join(result.args)
    assert result.returncode == 1, (command, result.stderr)
    assert "Traceback" not in result.stderr, (command, result.stderr)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, (command, result.stderr)
    assert lines[0].startswith("database_unavailable: "), lines[0]
    assert shown_url in lines[0] and "run the command again" in lines[0], lines[0]
    assert PASSWORD not in result.stdout + result.stderr, command


def test_commands_say_the_database_is_down_in_one_line(tmp_path: Path):
    with postgres_instance() as pg:
        url_with_password = pg.url.replace("authgate@", f"authgate:{PASSWORD}@", 1)
        config = tmp_path / "authgate.toml"
        config.write_text(
            f'public_url = "http://127.0.0.1:8000"\ndata_dir = "{tmp_path / "data"}"\n'
            f'database_url = "{url_with_password}"\n'
            '[providers.hh]\nkind = "hh"\nclient_id = "c"\nclient_secret = "s"\n'
            'user_agent = "T/1.0 (t@example.com)"\nuse = ["connect"]\n')
        up = run_cli(["users", "list", "--config", str(config)])
        assert up.returncode == 0, up.stderr  # the same configuration works while it runs
        pg.stop()

        for args in (["status"], ["token", "hh"], ["users", "list"], ["refresh", "--due"],
                     ["apikey", "list"]):
            _assert_outage_line(run_cli([*args, "--config", str(config)]), pg.url)
        # The installed command (a process of its own) the same way.
        process = subprocess.run([*AUTHGATE, "status", "--config", str(config)],
                                 capture_output=True, text=True, timeout=bound(60))
        _assert_outage_line(process, pg.url)
