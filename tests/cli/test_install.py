"""README's "Install on your server", step by step, in a temporary root: scripts/install, init,
the first administrator, deploy nginx and systemd, doctor — each a subprocess, as a person types
it. Offline: the new virtualenv takes its dependencies from the test environment's
site-packages (``--packages-from``), so nothing is downloaded."""

from __future__ import annotations

import subprocess
import sys
import sysconfig
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_install_on_a_server_in_a_temporary_root(tmp_path: Path) -> None:
    root = tmp_path / "root"
    installed = subprocess.run(
        [str(ROOT / "scripts" / "install"), "--prefix", str(root), "--python", sys.executable,
         "--packages-from", sysconfig.get_paths()["purelib"]],
        capture_output=True, text=True, timeout=180)
    assert installed.returncode == 0, installed.stdout + installed.stderr
    authgate = root / "usr" / "local" / "bin" / "authgate"
    assert authgate.is_symlink()
    assert authgate.resolve() == (root / "opt" / "authgate" / "bin" / "authgate").resolve()

    config = root / "etc" / "authgate" / "authgate.toml"

    def step(*args: str, stdin: str | None = None) -> str:
        done = subprocess.run([str(authgate), *args], capture_output=True, text=True,
                              input=stdin, timeout=120, env={"PATH": "/usr/bin:/bin",
                                                             "COLUMNS": "200"})
        assert done.returncode == 0, (args, done.stdout + done.stderr)
        return done.stdout + done.stderr

    # scripts/install ran the installed command (--version) through the symlink and says so.
    assert "install: authgate " in installed.stdout and str(authgate) in installed.stdout
    step("init", "--config", str(config), "--data-dir", str(root / "var" / "lib" / "authgate"),
         "--public-url", "https://auth.example.com")
    assert 'listen = "127.0.0.1:8000"' in config.read_text()
    step("users", "add", "admin", "--role", "admin", "--password-stdin", "--config", str(config),
         stdin="a long enough password\n")
    site = root / "etc" / "nginx" / "sites-available" / "authgate"
    step("deploy", "nginx", "--domain", "auth.example.com", "--tls", "terminated-upstream",
         "--output", str(site), "--config", str(config))
    assert "auth_request" in site.read_text() or "proxy_pass" in site.read_text()
    units = root / "etc" / "systemd" / "system"
    step("deploy", "systemd", "--output-dir", str(units), "--config", str(config))
    service = (units / "authgate.service").read_text()
    assert f"ExecStart={root / 'opt' / 'authgate' / 'bin' / 'authgate'} serve" in service
    report = step("doctor", "--config", str(config))
    assert "0 failed" in report and "sign-in" in report

    # Running it again upgrades in place.
    again = subprocess.run(
        [str(ROOT / "scripts" / "install"), "--prefix", str(root), "--python", sys.executable,
         "--packages-from", sysconfig.get_paths()["purelib"]],
        capture_output=True, text=True, timeout=180)
    assert again.returncode == 0, again.stderr
