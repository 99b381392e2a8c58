"""``authgate token``'s quick answer, before Typer loads: what it takes, and what it leaves to
the Typer command."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from authgate.cli.token_quick import PlainToken, owner_when_unnamed, plain_token_command
from authgate.clock import TEST_CLOCK_CONSENT_ENV, TEST_CLOCK_FILE_ENV
from tests.harness import bound, connect_hh


@pytest.mark.parametrize(("argv", "plain"), [
    (["token", "hh"], PlainToken("hh", None, None)),
    (["token", "hh", "--owner", "tg:1", "--config", "a.toml"],
     PlainToken("hh", "tg:1", Path("a.toml"))),
    (["token", "--owner=tg:1", "-c", "a.toml", "hh"], PlainToken("hh", "tg:1", Path("a.toml"))),
    (["token", "hh", "--config=a.toml"], PlainToken("hh", None, Path("a.toml"))),
])
def test_the_plain_command_lines_it_answers(argv: list[str], plain: PlainToken) -> None:
    assert plain_token_command(argv) == plain


@pytest.mark.parametrize("argv", [
    [], ["status"], ["token"], ["token", "hh", "--json"], ["token", "--help"],
    ["token", "hh", "--help"], ["token", "hh", "superjob"], ["token", "hh", "--owner"],
    ["token", "hh", "--owner", "a", "--owner", "b"], ["token", "hh", "--owner", "--json"],
    ["token", "hh", "-c=a.toml"], ["token", "hh", "--owner="], ["token", "hh", "--"],
    ["token", "hh", "--version"], ["token", "hh", "-x"],
])
def test_everything_else_goes_to_the_typer_command(argv: list[str]) -> None:
    assert plain_token_command(argv) is None


@pytest.mark.parametrize(("owners", "chosen"), [
    ([], "default"), (["default", "tg:1"], "default"), (["tg:1"], "tg:1"), (["tg:1", "tg:2"], None),
])
def test_whose_token_without_an_owner(owners: list[str], chosen: str | None) -> None:
    assert owner_when_unnamed(owners) == chosen


PROBE = ("import json, sys\nsys.argv = ['authgate', *sys.argv[1:]]\nfrom authgate.cli import main\n"
         "try:\n    main()\nexcept SystemExit as exc:\n    code = exc.code\nelse:\n    code = 0\n"
         "print(json.dumps([code, sorted(m for m in ('pydantic', 'typer', 'rich', "
         "'sqlalchemy') if m in sys.modules)]), file=sys.stderr)")


def test_a_stored_token_is_answered_before_typer_loads(stack_factory) -> None:
    """The real clock (no test clock in the environment): hh.ru's 14-day token is fresh."""
    stack = stack_factory()
    connect_hh(stack.gateway.url, stack.api_key, owner="default")
    stack.gateway.stop()
    env = {k: v for k, v in os.environ.items()
           if k not in (TEST_CLOCK_FILE_ENV, TEST_CLOCK_CONSENT_ENV)}

    def authgate(*args: str) -> tuple[str, int, list[str]]:
        done = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True,
                              text=True, env=env, timeout=bound(60))
        code, loaded = json.loads(done.stderr.strip().splitlines()[-1])
        return done.stdout, code, loaded

    config = str(stack.gateway.config)
    full = ["pydantic", "rich", "sqlalchemy", "typer"]
    whole = authgate("token", "hh", "--json", "--config", config)
    assert whole[1] == 0 and "typer" in whole[2], "--json: the Typer command prints it"
    quick = authgate("token", "hh", "--config", config)
    assert quick[1:] == (0, []), "answered before pydantic, Typer, Rich and SQLAlchemy load"
    assert quick[0] == json.loads(whole[0])["access_token"] + "\n"
    assert authgate("token", "hh", "--owner", "tg:404", "--config", config)[1:] == (
        1, full), "no such connection: the full way says so"
    assert authgate("token", "superjob", "--config", config)[1] != 0

    # The configuration changed since it was last validated: the full way validates it again.
    stack.gateway.config.write_text(stack.gateway.config.read_text() + "\n# edited\n")
    assert authgate("token", "hh", "--config", config) == (quick[0], 0, ["pydantic", "typer"])
    assert authgate("token", "hh", "--config", config) == (quick[0], 0, [])
    env["AUTHGATE_VAULT__HTTP_TIMEOUT"] = "x"
    assert authgate("token", "hh", "--config", config)[1] == 2, \
        "a bad value in the environment: the full way refuses it, as any command"
