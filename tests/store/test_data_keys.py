"""Data keys in the database under a master key, and the way there from keyring.json."""

from __future__ import annotations

import pytest

from authgate.config import Settings
from authgate.errors import ConfigError
from authgate.keyring import Keyring, new_master_key, parse_master_key
from authgate.runtime import Runtime


def _settings(tmp_path, master_key: str = "") -> Settings:
    return Settings(public_url="https://auth.example.com", data_dir=tmp_path / "data",
                    keyring={"master_key": master_key})


def test_keyring_json_moves_into_the_database_and_stays_readable(tmp_path):
    single = Runtime.open(_settings(tmp_path))  # today's single node: keyring.json
    sealed = single.keyring.encrypt("old secret", "test:aad")
    single.keyring.rotate()
    older = single.keyring.encrypt("newer secret", "test:aad")
    single.engine.dispose()

    master = new_master_key()
    moved = Runtime.open(_settings(tmp_path, master))
    try:
        assert moved.keyring.path == "the database's data keys"
        assert moved.keyring.decrypt(sealed, "test:aad") == "old secret"
        assert moved.keyring.decrypt(older, "test:aad") == "newer secret"
        # The file's current key stays current, so nothing needs re-encrypting at once.
        assert moved.keyring.current_kid == Keyring(tmp_path / "data" / "keyring.json").current_kid
    finally:
        moved.engine.dispose()
    # From now on the database decides: without the master key, this node refuses to start.
    with pytest.raises(ConfigError, match="master_key"):
        Runtime.open(_settings(tmp_path))
    with pytest.raises(ConfigError, match="master_key"):
        Runtime.open(_settings(tmp_path, new_master_key()))


def test_a_malformed_master_key_is_a_configuration_error(tmp_path):
    with pytest.raises(ValueError, match="32 random bytes"):
        _settings(tmp_path, "too-short")


def test_replicas_with_one_master_key_accept_each_others_forms(tmp_path):
    """The CSRF key: derived from the master key, the same on every replica's data_dir."""
    master = new_master_key()
    keys = []
    for n, key in enumerate((master, master, new_master_key())):
        runtime = Runtime.open(_settings(tmp_path / str(n), key))
        keys.append(runtime.csrf_key)
        runtime.engine.dispose()
    assert keys[0] == keys[1] != keys[2]
    assert keys[0] != parse_master_key(master)  # derived for this purpose, not the key itself
    assert not (tmp_path / "0" / "data" / "csrf.key").exists()
