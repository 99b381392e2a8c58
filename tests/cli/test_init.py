from __future__ import annotations

import stat
import subprocess

from tests.harness import AUTHGATE


def test_init_writes_a_valid_config_and_prepares_data(tmp_path):
    config = tmp_path / "authgate.toml"
    result = subprocess.run([*AUTHGATE, "init", "--config", str(config), "--data-dir", "data"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    data = tmp_path / "data"
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    for name in ("authgate.db", "keyring.json"):
        assert stat.S_IMODE((data / name).stat().st_mode) == 0o600
    before = config.read_text()
    again = subprocess.run([*AUTHGATE, "init", "--config", str(config)], capture_output=True,
                           text=True, timeout=60)
    assert again.returncode == 0 and config.read_text() == before
    status = subprocess.run([*AUTHGATE, "status", "--config", str(config)], capture_output=True,
                            text=True, timeout=60)
    assert status.returncode == 0, status.stderr
