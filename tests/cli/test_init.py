from __future__ import annotations

import stat
import subprocess

from tests.harness import AUTHGATE, bound, run_cli


def test_init_writes_a_valid_config_and_prepares_data(tmp_path):
    config = tmp_path / "authgate.toml"
    result = subprocess.run([*AUTHGATE, "init", "--config", str(config), "--data-dir", "data"],
                            capture_output=True, text=True, timeout=bound(60))
    assert result.returncode == 0, result.stderr
    data = tmp_path / "data"
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    for name in ("authgate.db", "keyring.json"):
        assert stat.S_IMODE((data / name).stat().st_mode) == 0o600
    before = config.read_text()
    # The same command code again, in this process (starting Python costs seconds when busy).
    again = run_cli(["init", "--config", str(config)])
    assert again.returncode == 0 and config.read_text() == before
    status = run_cli(["status", "--config", str(config)])
    assert status.returncode == 0, status.stderr
