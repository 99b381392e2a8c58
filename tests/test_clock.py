"""The test-only shifted clock: how the suite moves time in processes it started, and why
production cannot run with it by accident."""

from __future__ import annotations

import os
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from authgate.clock import (
    TEST_CLOCK_CONSENT,
    TEST_CLOCK_CONSENT_ENV,
    TEST_CLOCK_FILE_ENV,
    TEST_CLOCK_SKEW_ENV,
    OffsetClock,
    ShiftedClockRefused,
    shifted_clock_from_environ,
)
from tests.harness import AUTHGATE, ClockFile, DevIdpProcess, bound, run_cli

LOOPBACK = "http://127.0.0.1:8000"


def test_the_offset_is_read_at_every_call(tmp_path: Path) -> None:
    file = ClockFile(tmp_path / "clock")
    clock = OffsetClock(file.path)
    assert abs((clock.now() - datetime.now(UTC)).total_seconds()) < 60
    file.advance(86400)
    assert 86400 - 60 < (clock.now() - datetime.now(UTC)).total_seconds() < 86400 + 60
    assert 86400 - 60 < clock.timestamp() - time.time() < 86400 + 60
    file.path.write_text("garbage")  # unreadable: the last good offset stays
    assert 86400 - 60 < clock.timestamp() - time.time() < 86400 + 60
    file.freeze()
    frozen = clock.now()
    time.sleep(0.01)  # the one real wait here: to see that time no longer passes
    assert clock.now() == frozen
    file.advance(31)
    assert (clock.now() - frozen).total_seconds() == 31


def test_a_skewed_clock_moves_with_its_file_and_keeps_its_distance(tmp_path: Path) -> None:
    """A replica whose clock is off: the world's file plus a constant skew, and the database
    going by the world's file alone; one write moves both."""
    world = ClockFile(tmp_path / "world")
    clock = shifted_clock_from_environ({**world.env, TEST_CLOCK_SKEW_ENV: "-120"}, LOOPBACK)
    assert clock is not None
    for _ in range(2):
        assert abs(clock.timestamp() - world.clock().timestamp() + 120) < 1
        assert abs((clock.now() - world.clock().now()).total_seconds() + 120) < 1
        assert abs(clock.database_shift() - world.offset) < 1
        world.advance(14 * 86400)
    world.freeze()
    assert (world.clock().now() - clock.now()).total_seconds() == 120
    with pytest.raises(ShiftedClockRefused, match="not a number"):
        shifted_clock_from_environ({**world.env, TEST_CLOCK_SKEW_ENV: "2m"}, LOOPBACK)


def test_honoured_only_with_consent_and_on_loopback(tmp_path: Path) -> None:
    file = ClockFile(tmp_path / "clock")
    assert shifted_clock_from_environ({}, LOOPBACK) is None
    clock = shifted_clock_from_environ(file.env, LOOPBACK, "http://[::1]:9000",
                                       "http://localhost:1")
    assert isinstance(clock, OffsetClock) and clock.path == file.path
    refused = [
        ({TEST_CLOCK_FILE_ENV: str(file.path)}, LOOPBACK, "for the test suite only"),
        ({**file.env, TEST_CLOCK_CONSENT_ENV: "yes"}, LOOPBACK, "for the test suite only"),
        (file.env, "https://auth.example.com", "not a loopback"),
        (file.env, "https://127.0.0.1:8443", "not a loopback"),
        (file.env, "http://0.0.0.0:8000", "not a loopback"),
        ({**file.env, TEST_CLOCK_FILE_ENV: str(tmp_path / "missing")}, LOOPBACK, "not a file"),
    ]
    for environ, url, reason in refused:
        with pytest.raises(ShiftedClockRefused, match=reason):
            shifted_clock_from_environ(environ, url)


def _config(tmp_path: Path, public_url: str) -> Path:
    config = tmp_path / "authgate.toml"
    config.write_text(f'public_url = "{public_url}"\nlisten = "127.0.0.1:1"\n'
                      f'data_dir = "{tmp_path / "data"}"\n')
    return config


def test_serve_refuses_a_stray_clock_file(tmp_path: Path) -> None:
    """A real ``authgate serve``, as a service manager would start it: exit 2, saying why."""
    file = ClockFile(tmp_path / "clock")
    config = _config(tmp_path, "https://auth.example.com")
    result = subprocess.run([*AUTHGATE, "serve", "--config", str(config)], capture_output=True,
                            text=True, timeout=bound(60),
                            env={**os.environ, TEST_CLOCK_FILE_ENV: str(file.path)})
    assert result.returncode == 2, result.stderr
    assert TEST_CLOCK_FILE_ENV in result.stderr and "for the test suite only" in result.stderr
    assert "Traceback" not in result.stderr


def test_consent_is_not_enough_for_a_public_gateway_or_devidp(tmp_path: Path) -> None:
    file = ClockFile(tmp_path / "clock")
    public = run_cli(["serve", "--config", str(_config(tmp_path, "https://auth.example.com"))],
                     env=file.env)
    assert public.returncode == 2 and "not a loopback" in public.stderr, public.stderr
    for command in (["status"], ["refresh", "--due"]):  # every command that opens the vault
        refused = run_cli([*command, "--config", str(_config(tmp_path, "https://a.example"))],
                          env={TEST_CLOCK_FILE_ENV: str(file.path)})
        assert refused.returncode == 2 and "test suite only" in refused.stderr, refused.stderr
    devidp = run_cli(["devidp", "--host", "0.0.0.0", "--port", "1"], env=file.env)
    assert devidp.returncode == 2 and "not a loopback" in devidp.stderr, devidp.stderr
    assert TEST_CLOCK_CONSENT in file.env.values()


def test_devidp_process_follows_the_clock_file(tmp_path: Path) -> None:
    """``authgate devidp`` as a process of its own, its time moved by the file."""
    file = ClockFile(tmp_path / "clock")
    with DevIdpProcess(tmp_path, gateway_url="http://127.0.0.1:1", access_lifetime=3600,
                       clock=file) as devidp:
        devidp.start()
        before = devidp.control("hh/seed", {"count": 1})[0]["expires_at"]
        file.advance(86400)
        after = devidp.control("hh/seed", {"count": 1})[0]["expires_at"]
    assert 86400 <= after - before < 86400 + bound(60)
    assert not devidp.running()
