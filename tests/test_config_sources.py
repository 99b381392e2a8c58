"""The configuration's sources, read and merged before validation (``config_sources``)."""

from __future__ import annotations

import pytest

from authgate.config import Settings, load_settings
from authgate.config_sources import TOP_LEVEL_KEYS, read_config_sources
from authgate.errors import ConfigError


def test_the_top_level_keys_are_the_settings_fields() -> None:
    assert set(Settings.model_fields) == TOP_LEVEL_KEYS


def test_the_file_under_the_environment_with_data_dir_beside_the_file(tmp_path) -> None:
    config = tmp_path / "authgate.toml"
    config.write_text('Data_Dir = "data"\n[vault]\ndefault_owner = "file"\n'
                      '[providers.hh]\nclient_secret_file = "/s"\n')
    sources = read_config_sources(config, {"AUTHGATE_VAULT__DEFAULT_OWNER": "env",
                                           "AUTHGATE_PROVIDERS__HH__CLIENT_SECRET": "x",
                                           "OTHER": "1"})
    assert sources.tree == {"data_dir": str(tmp_path / "data"),
                            "vault": {"default_owner": "env"},
                            "providers": {"hh": {"client_secret": "x"}}}
    assert sources.overrides == {"vault": {"default_owner": "env"},
                                 "providers": {"hh": {"client_secret": "x"}}}
    assert sources.file_bytes == config.read_bytes() and sources.source == str(config)
    # Not given: the default, beside the file too; an absolute one stays as it is.
    config.write_text("")
    assert read_config_sources(config, {}).tree["data_dir"] == str(tmp_path / "authgate-data")
    assert load_settings(config, {}).data_dir == tmp_path / "authgate-data"
    assert read_config_sources(config, {"AUTHGATE_DATA_DIR": "/srv/a"}).tree["data_dir"] == "/srv/a"


@pytest.mark.parametrize(("content", "expected"), [
    (b"= 1\n", "not valid TOML"), (b'a = "\xff"\n', "not UTF-8"),
])
def test_a_file_that_is_not_toml_is_named(tmp_path, content: bytes, expected: str) -> None:
    config = tmp_path / "authgate.toml"
    config.write_bytes(content)
    with pytest.raises(ConfigError, match=expected) as info:
        read_config_sources(config, {})
    assert str(config) in info.value.detail


def test_a_missing_file_is_named(tmp_path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        read_config_sources(tmp_path / "nope.toml", {})
