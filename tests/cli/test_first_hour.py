"""The first hour with authgate, command by command: a fresh ``init`` that says what comes next, a
``doctor`` that notices nobody can sign in, ``serve`` with its own options.

Commands whose point is what they print and their exit code run in this process through Typer's
runner (``run``: the same command code, stdout and stderr apart, without a second of CPU to start
Python each time); what only a process shows (``serve``'s workers, a token on a script's stdout,
the demo's offered command run from a shell) runs as one (``run_process``). The README's install
walk-through runs every step as a process (tests/cli/test_install.py).
"""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

from tests.harness import AUTHGATE, bound, free_port, run_cli, wait_http, wait_until
from tests.inprocess import cheap_password_hashing


def run(*args: str, stdin: str | None = None, ok: bool = True,
        env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``authgate ARGS`` in this process."""
    result = run_cli(list(args), input_text=stdin, env={"COLUMNS": "200", **(env or {})})
    if ok:
        assert result.returncode == 0, result.stdout + result.stderr
    return result


def run_process(*args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
    """``authgate ARGS`` as a process of its own, as a shell script runs it."""
    result = subprocess.run([*AUTHGATE, *args], capture_output=True, text=True, timeout=120,
                            env={**os.environ, "COLUMNS": "200"})
    if ok:
        assert result.returncode == 0, result.stdout + result.stderr
    return result


def test_a_fresh_init_says_to_add_a_user_and_doctor_insists(tmp_path: Path) -> None:
    port = free_port()
    config = tmp_path / "authgate.toml"
    init = run("init", "--config", str(config), "--public-url", f"http://127.0.0.1:{port}")
    text = config.read_text()
    assert text.endswith("\n")
    # On loopback nothing stands in front: serve listens where browsers go.
    assert f'listen = "127.0.0.1:{port}"' in text
    assert f"authgate users add NAME --role admin --config {config}" in init.stdout

    doctor = run("doctor", "--config", str(config), ok=False)
    assert doctor.returncode == 1, doctor.stdout
    assert "nobody can sign in" in doctor.stdout
    assert "authgate users add NAME --role admin" in doctor.stdout
    assert "1 failed" in doctor.stdout

    with cheap_password_hashing():  # about what doctor says next, not what a hash costs
        run("users", "add", "root", "--role", "admin", "--password-stdin", "--config",
            str(config), stdin="correct horse battery\n")
    doctor = run("doctor", "--config", str(config))
    assert "0 failed" in doctor.stdout
    assert "1 account(s) with a password" in doctor.stdout


def test_init_behind_a_proxy_listens_on_loopback(tmp_path: Path) -> None:
    config = tmp_path / "authgate.toml"
    run("init", "--config", str(config), "--public-url", "https://auth.example.com")
    assert 'listen = "127.0.0.1:8000"' in config.read_text()


def test_serve_takes_listen_and_workers(tmp_path: Path) -> None:
    config = tmp_path / "authgate.toml"
    run("init", "--config", str(config))  # listen = 127.0.0.1:8000, which is not used below
    port = free_port()
    log = tmp_path / "serve.log"
    with log.open("wb") as handle:
        proc = subprocess.Popen([*AUTHGATE, "serve", "--config", str(config), "--listen",
                                 f"127.0.0.1:{port}", "--workers", "2"],
                                stdout=handle, stderr=subprocess.STDOUT)
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz", idle_bound=60, process=proc, log=log)
        # One worker answering says nothing of the other: wait for both to have started (on a
        # crowded machine the second can still be importing when the first answers).
        wait_until(lambda: log.read_text().count("Application startup complete") >= 2,
                   "both workers started", idle_bound=60)
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(bound(30))
    assert log.read_text().count("Application startup complete") == 2


def _save_connection(config: Path, owner: str, access_token: str) -> None:
    from datetime import UTC, datetime, timedelta

    from authgate.config import load_settings
    from authgate.keyring import Keyring, keyring_path
    from authgate.outbox.store import Outbox
    from authgate.protocol.rfc6749_oauth2 import TokenResponse
    from authgate.providers.base import Account
    from authgate.store.db import database_url, make_engine, make_sessionmaker
    from authgate.vault.connections import ConnectionStore

    settings = load_settings(config, environ={})
    engine = make_engine(database_url(settings.database_url, settings.data_dir))
    db = make_sessionmaker(engine)
    store = ConnectionStore(db, Keyring(keyring_path(settings.data_dir)), Outbox(db))
    now = datetime.now(UTC)
    store.save_tokens("hh", owner, TokenResponse(access_token=access_token,
                                                 refresh_token="r" * 20, expires_in=86400),
                      Account(id=owner, name=None), now=now,
                      next_refresh_at=now + timedelta(days=1))
    engine.dispose()


def test_cli_help_version_and_the_token_owner_it_means(tmp_path: Path) -> None:
    assert run("--version").stdout.strip().startswith("authgate ")
    helped = run_process("token", "--help").stdout  # the name a person typed, in a process
    assert "--json" in helped and "<bool>" not in helped
    assert "Usage: authgate token" in helped

    config = tmp_path / "authgate.toml"
    run("init", "--config", str(config))
    with config.open("a") as f:
        f.write('\n[providers.hh]\nkind = "hh"\nclient_id = "c"\nclient_secret = "s"\n'
                'user_agent = "T/1.0 (t@example.com)"\nuse = ["connect"]\n')
    none = run("token", "hh", "--config", str(config), ok=False)
    assert none.returncode == 1 and "no hh connection" in none.stderr

    # The console's connections belong to user:NAME: with only one, it is the one meant.
    _save_connection(config, "user:alice", "a" * 24)
    # What a script reads from a process: the token alone on stdout.
    assert run_process("token", "hh", "--config", str(config)).stdout == "a" * 24 + "\n"

    _save_connection(config, "tg:2", "b" * 24)
    several = run("token", "hh", "--config", str(config), ok=False)
    assert several.returncode == 2
    assert "--owner" in several.stderr
    assert "user:alice" in several.stderr and "tg:2" in several.stderr
    assert run("token", "hh", "--owner", "tg:2", "--config", str(config)).stdout.strip() == (
        "b" * 24)
    # Or the configuration names the owner meant.
    named = run("token", "hh", "--config", str(config), ok=False,
                env={"AUTHGATE_VAULT__DEFAULT_OWNER": "tg:2"})
    assert named.returncode == 0 and named.stdout.strip() == "b" * 24


ROOT = Path(__file__).resolve().parents[2]


def test_setup_a_second_time_only_checks(tmp_path: Path) -> None:
    """scripts/setup in a copy of the tree whose .venv/bin/python only notes what it was asked:
    the first run installs, the second installs nothing, a changed pyproject installs again."""
    (tmp_path / "scripts").mkdir()
    setup = tmp_path / "scripts" / "setup"
    setup.write_text((ROOT / "scripts" / "setup").read_text())
    setup.chmod(0o755)
    (tmp_path / "clients" / "python").mkdir(parents=True)
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "authgate"\n')
    (tmp_path / "clients" / "python" / "pyproject.toml").write_text('[project]\nname = "c"\n')
    python = tmp_path / ".venv" / "bin" / "python"
    python.parent.mkdir(parents=True)
    calls = tmp_path / "calls.log"
    python.write_text(f'#!/bin/sh\necho "$*" >> {calls}\n')
    python.chmod(0o755)

    def installs() -> list[str]:
        lines = calls.read_text().splitlines() if calls.exists() else []
        calls.unlink(missing_ok=True)
        return [line for line in lines if "pip install" in line]

    def setup_run() -> str:
        done = subprocess.run([str(setup)], capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        return done.stdout

    setup_run()
    assert any("-e ." in line for line in installs())
    assert "already installed" in setup_run()
    assert installs() == []
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "authgate"\nversion = "2"\n')
    setup_run()
    assert installs() != []


def test_the_demo_banner_offers_a_command_that_works(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import re
    import shlex

    from tests.demo_harness import DemoProcess, free_base_port

    # As after ./scripts/demo: authgate is not on PATH.
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    demo = DemoProcess(tmp_path / "authgate-demo", free_base_port(), tmp_path / "demo.log")
    demo.start()
    try:
        text = demo.text
        offered = re.search(r"Other commands:\s+(.+ status --config \S+)", text)
        assert offered, text
        # Run where the demo was started, as its user would (the path may be relative).
        done = subprocess.run(shlex.split(offered.group(1)), capture_output=True, text=True,
                              timeout=60, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        assert "Connections" in done.stdout
        # Every address starts in the same column, "Identity provider" included.
        columns = {line.index("http://") for line in text.splitlines()
                   if re.match(r"  \w[\w ]+ +http://", line)}
        assert len(columns) == 1, text
        assert "initial password" in text
    finally:
        demo.stop()
    log = (tmp_path / "demo.log").read_text()
    assert "alembic" not in log and "Running upgrade" not in log, log


def test_every_help_page_renders() -> None:
    """`deploy nginx --help` used to crash on a Rich markup tag in its own help text."""
    import typer.main
    from typer.testing import CliRunner

    from authgate.cli.main import app

    def paths(group: object, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
        found = [prefix]
        for name, command in getattr(group, "commands", {}).items():
            found.extend(paths(command, (*prefix, name)))
        return found

    runner = CliRunner()
    commands = paths(typer.main.get_command(app))
    assert ("deploy", "nginx") in commands and len(commands) > 20
    for path in commands:
        result = runner.invoke(app, [*path, "--help"], prog_name="authgate",
                               env={"COLUMNS": "120"})
        assert result.exit_code == 0, (path, result.output, result.exception)
        assert "<bool>" not in result.output, path
