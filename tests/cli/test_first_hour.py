"""The first hour with authgate, command by command, as subprocesses: a fresh ``init`` that says
what comes next, a ``doctor`` that notices nobody can sign in, ``serve`` with its own options."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

from tests.harness import AUTHGATE, free_port, wait_http


def run(*args: str, stdin: str | None = None, cwd: Path | None = None,
        ok: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([*AUTHGATE, *args], capture_output=True, text=True, timeout=120,
                            input=stdin, cwd=cwd, env={**os.environ, "COLUMNS": "200"})
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

    run("users", "add", "root", "--role", "admin", "--password-stdin", "--config", str(config),
        stdin="correct horse battery\n")
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
        wait_http(f"http://127.0.0.1:{port}/healthz", timeout=60, process=proc, log=log)  # type: ignore[arg-type]
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(30)
    assert log.read_text().count("Application startup complete") == 2
