"""Encryption at rest: AES-256-GCM with named data keys, kept in one 0600 file (one machine) or
in the database wrapped by a master key (``store.data_keys``: every replica reads the same keys).

A ciphertext reads ``v1.<kid>.<base64url(nonce || ciphertext+tag)>`` so that any key that ever
encrypted something can still decrypt it after a rotation. The associated data binds a ciphertext
to what it is (e.g. ``connection:hh:tg:1:refresh``), so one cannot be swapped for another.

Another process (``authgate keys rotate``) may rotate the keys while the server runs: they are
read again when their source says they may have changed or an unknown key id shows up.
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
from pathlib import Path
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from authgate.errors import AuthgateError
from authgate.private_files import write_private_file

_VERSION = "v1"


class KeyringError(AuthgateError):
    error = "keyring_error"


class KeySource(Protocol):
    """Where the data keys live."""

    def describe(self) -> str:
        """Where, for messages."""
        ...

    def read(self) -> tuple[str, dict[str, bytes]]:
        """The current key id and every key."""
        ...

    def may_have_changed(self) -> bool:
        """Cheap: whether ``read`` might give something new."""
        ...

    def add(self, kid: str, key: bytes) -> None:
        """Store a new key and make it current."""
        ...


class FileKeys:
    """The keys in one 0600 JSON file in data_dir (created with a first key when missing)."""

    def __init__(self, path: Path, *, create: bool = True) -> None:
        self.path = path
        self._mtime: int | None = None
        if not path.exists():
            if not create:
                raise KeyringError(f"key file {path} is missing")
            kid = new_kid()
            self._write({"current": kid, "keys": {kid: _b64(AESGCM.generate_key(256))}})

    def describe(self) -> str:
        return str(self.path)

    def read(self) -> tuple[str, dict[str, bytes]]:
        try:
            stat = self.path.stat()
            data = json.loads(self.path.read_text(encoding="utf-8"))
            keys = {k: _unb64(v) for k, v in data["keys"].items()}
            current = str(data["current"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise KeyringError(f"key file {self.path} cannot be read ({exc})") from None
        self._mtime = stat.st_mtime_ns
        return current, keys

    def may_have_changed(self) -> bool:
        try:
            return self.path.stat().st_mtime_ns != self._mtime
        except OSError:
            return False

    def add(self, kid: str, key: bytes) -> None:
        _current, keys = self.read()
        self._write({"current": kid, "keys": {**{k: _b64(v) for k, v in keys.items()},
                                              kid: _b64(key)}})

    def _write(self, data: dict[str, object]) -> None:
        write_private_file(self.path, json.dumps(data, indent=2).encode())


class Keyring:
    def __init__(self, source: Path | KeySource) -> None:
        self.source: KeySource = FileKeys(source) if isinstance(source, Path) else source
        self._lock = threading.Lock()
        self._current = ""
        self._keys: dict[str, bytes] = {}
        self._load()

    @property
    def path(self) -> str:
        return self.source.describe()

    def _load(self) -> None:
        with self._lock:
            current, keys = self.source.read()
            if current not in keys:
                raise KeyringError(f"{self.path} names a current key it does not hold")
            self._current, self._keys = current, keys

    def _reload_if_changed(self) -> None:
        if self.source.may_have_changed():
            try:
                self._load()
            except Exception:
                return

    @property
    def current_kid(self) -> str:
        self._reload_if_changed()
        return self._current

    def rotate(self) -> str:
        """Make a new key current; old keys stay so existing ciphertexts remain readable."""
        kid = new_kid()
        with self._lock:
            self.source.add(kid, AESGCM.generate_key(256))
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


# -- the master key: wraps the data keys kept in the database ------------------------------------

MASTER_KEY_BYTES = 32


def new_master_key() -> str:
    return _b64(AESGCM.generate_key(256))


def parse_master_key(text: str) -> bytes:
    """The master key's bytes; ``ValueError`` unless it is 32 bytes of base64url."""
    try:
        raw = _unb64(text.strip())
    except ValueError:
        raw = b""
    if len(raw) != MASTER_KEY_BYTES:
        raise ValueError("expected 32 random bytes in base64url (`authgate keys master-key` "
                         "prints a new one)")
    return raw


def wrap_key(master: bytes, kid: str, key: bytes) -> str:
    nonce = secrets.token_bytes(12)
    return f"{_VERSION}.{_b64(nonce + AESGCM(master).encrypt(nonce, key, _wrap_aad(kid)))}"


def unwrap_key(master: bytes, kid: str, wrapped: str) -> bytes:
    """``KeyringError`` when ``master`` is not the key that wrapped it."""
    try:
        version, body = wrapped.split(".", 1)
        raw = _unb64(body)
        if version != _VERSION:
            raise ValueError(version)
        return AESGCM(master).decrypt(raw[:12], raw[12:], _wrap_aad(kid))
    except (ValueError, InvalidTag):
        raise KeyringError(f"data key {kid!r} cannot be opened with this master key") from None


def derive_key(master: bytes, purpose: str) -> bytes:
    """A 32-byte key for one ``purpose`` (HKDF-SHA256): the same on every replica with the same
    master key, and telling nothing about the master key or the other purposes' keys."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                info=f"authgate:{purpose}".encode()).derive(master)


def _wrap_aad(kid: str) -> bytes:
    return f"authgate-data-key:{kid}".encode()


def new_kid() -> str:
    return secrets.token_hex(4)


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def keyring_path(data_dir: Path) -> Path:
    return data_dir / "keyring.json"
