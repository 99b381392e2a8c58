"""Values from users are printed as they are, never read as Rich markup (review finding: a
sign-in attempt with ``username=[/x]`` made ``authgate audit`` exit 1), and every ``--help``
renders."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from authgate.cli.main import app
from authgate.config import load_settings
from authgate.runtime import Runtime
from authgate.signin.audit import FAILURE, LOCAL, Client

HOSTILE = "[/x]"
LINK = "[link=https://evil.example]click[/link]"


def _command_paths(command: Any, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    paths = [path]
    if isinstance(getattr(command, "commands", None), dict):  # a group
        for name, sub in command.commands.items():
            paths += _command_paths(sub, (*path, name))
    return paths


COMMANDS = _command_paths(typer.main.get_command(app))


def test_every_command_is_listed() -> None:
    assert ("deploy", "nginx") in COMMANDS and ("users", "list") in COMMANDS
    assert ("apikey", "create") in COMMANDS and ("audit",) in COMMANDS


@pytest.mark.parametrize("path", COMMANDS, ids=lambda p: " ".join(p) or "authgate")
def test_every_help_renders(path: tuple[str, ...]) -> None:
    result = CliRunner().invoke(app, [*path, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, (result.output, result.exception)
    assert "Usage" in result.output


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "authgate.toml"
    path.write_text(f'data_dir = "{tmp_path / "data"}"\n')
    runtime = Runtime.open(load_settings(path))
    try:
        now = runtime.clock.now()
        runtime.signin.users.add("dora", role="user", email=f"{HOSTILE}@corp.example",
                                 name=LINK, now=now)
        runtime.signin.log.record(now=now, provider=LOCAL, result=FAILURE, reason="unknown_user",
                                  client=Client(ip="192.0.2.1", user_agent=LINK),
                                  username=HOSTILE)
    finally:
        runtime.engine.dispose()
    return path


@pytest.mark.parametrize("command", [["audit"], ["users", "list"]])
def test_values_from_users_are_printed_as_text(config: Path, command: list[str]) -> None:
    result = CliRunner().invoke(app, [*command, "--config", str(config)],
                                env={"COLUMNS": "300"})
    assert result.exit_code == 0, (result.output, result.exception)
    assert HOSTILE in result.output
    if command == ["users", "list"]:
        assert LINK in result.output  # not turned into a link
