"""Encryption at rest: AES-256-GCM with named keys kept in one 0600 file.

A ciphertext reads ``v1.<kid>.<base64url(nonce || ciphertext+tag)>`` so that any key that ever
encrypted something can still decrypt it after a rotation. The associated data binds a ciphertext
to what it is (e.g. ``connection:hh:tg:1:refresh``), so one cannot be swapped for another.

Another process (``authgate keys rotate``) may rotate the file while the server runs: the file is
re-read when its modification time changes or an unknown key id shows up.
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from authgate.errors import AuthgateError
from authgate.private_files import write_private_file

_VERSION = "v1"


class KeyringError(AuthgateError):
    error = "keyring_error"


class Keyring:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._mtime: int | None = None
        self._current = ""
        self._keys: dict[str, bytes] = {}
        self._load(create=True)

    # -- file -------------------------------------------------------------------------------
    def _load(self, *, create: bool = False) -> None:
        with self._lock:
            if not self.path.exists():
                if not create:
                    raise KeyringError(f"key file {self.path} is missing")
                kid = _new_kid()
                self._write({"current": kid, "keys": {kid: _b64(AESGCM.generate_key(256))}})
            try:
                stat = self.path.stat()
                data = json.loads(self.path.read_text(encoding="utf-8"))
                self._keys = {k: _unb64(v) for k, v in data["keys"].items()}
                self._current = str(data["current"])
            except (OSError, ValueError, KeyError, TypeError) as exc:
                raise KeyringError(f"key file {self.path} cannot be read ({exc})") from None
            if self._current not in self._keys:
                raise KeyringError(f"key file {self.path} names a current key it does not hold")
            self._mtime = stat.st_mtime_ns

    def _write(self, data: dict[str, object]) -> None:
        write_private_file(self.path, json.dumps(data, indent=2).encode())

    def _reload_if_changed(self) -> None:
        try:
            mtime = self.path.stat().st_mtime_ns
        except OSError:
            return
        if mtime != self._mtime:
            self._load()

    @property
    def current_kid(self) -> str:
        self._reload_if_changed()
        return self._current

    def rotate(self) -> str:
        """Make a new key current; old keys stay so existing ciphertexts remain readable."""
        self._load()
        kid = _new_kid()
        keys = {k: _b64(v) for k, v in self._keys.items()}
        keys[kid] = _b64(AESGCM.generate_key(256))
        with self._lock:
            self._write({"current": kid, "keys": keys})
        self._load()
        return kid

    # -- crypto -----------------------------------------------------------------------------
    def encrypt(self, plaintext: str, aad: str) -> str:
        self._reload_if_changed()
        kid, key = self._current, self._keys[self._current]
        nonce = secrets.token_bytes(12)
        sealed = AESGCM(key).encrypt(nonce, plaintext.encode(), aad.encode())
        return f"{_VERSION}.{kid}.{_b64(nonce + sealed)}"

    def decrypt(self, ciphertext: str, aad: str) -> str:
        try:
            version, kid, body = ciphertext.split(".", 2)
        except ValueError:
            raise KeyringError("stored secret is not a keyring ciphertext") from None
        if version != _VERSION:
            raise KeyringError(f"stored secret has unknown format {version!r}")
        if kid not in self._keys:
            self._load()
            if kid not in self._keys:
                raise KeyringError(f"stored secret needs key {kid!r}, which {self.path} lacks")
        raw = _unb64(body)
        try:
            return AESGCM(self._keys[kid]).decrypt(raw[:12], raw[12:], aad.encode()).decode()
        except InvalidTag:
            raise KeyringError("stored secret failed its integrity check") from None

    def kid_of(self, ciphertext: str) -> str:
        return ciphertext.split(".", 2)[1]

    def reencrypt(self, ciphertext: str, aad: str) -> str:
        """The same secret under the current key (unchanged if it already uses it)."""
        if self.kid_of(ciphertext) == self.current_kid:
            return ciphertext
        return self.encrypt(self.decrypt(ciphertext, aad), aad)


def _new_kid() -> str:
    return secrets.token_hex(4)


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def keyring_path(data_dir: Path) -> Path:
    return data_dir / "keyring.json"
