from __future__ import annotations

import stat

import pytest

from authgate.keyring import Keyring, KeyringError
from tests.tampering import altered


def test_roundtrip_binding_and_rotation(tmp_path):
    path = tmp_path / "keyring.json"
    ring = Keyring(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    sealed = ring.encrypt("secret-value", "connection:hh:a:access")
    assert "secret-value" not in sealed and ring.kid_of(sealed) == ring.current_kid
    assert ring.decrypt(sealed, "connection:hh:a:access") == "secret-value"
    with pytest.raises(KeyringError):
        ring.decrypt(sealed, "connection:hh:b:access")  # swapped between rows
    with pytest.raises(KeyringError):
        ring.decrypt(altered(sealed), "connection:hh:a:access")

    # Another process rotates the file: this instance follows and can still read old data.
    other = Keyring(path)
    new_kid = other.rotate()
    assert ring.current_kid == new_kid
    assert ring.decrypt(sealed, "connection:hh:a:access") == "secret-value"
    assert ring.kid_of(ring.reencrypt(sealed, "connection:hh:a:access")) == new_kid
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_unreadable_key_file_is_a_clear_error(tmp_path):
    path = tmp_path / "keyring.json"
    path.write_text("{not json")
    with pytest.raises(KeyringError, match="cannot be read"):
        Keyring(path)
