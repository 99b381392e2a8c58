"""The record that a configuration validated, for ``authgate token``'s quick answer.

Validating the configuration means importing pydantic and building the models: about two thirds
of a quick ``authgate token``. So a command that validated the configuration anyway (``serve``,
and ``token`` when it takes the full way) leaves in the data directory the few settings the quick
answer needs, under a fingerprint of every input the validation read: the file's bytes and
path, the ``AUTHGATE_*`` environment, the content of each ``<key>_file`` named, and authgate's
version. The quick answer reads the sources again (TOML and the environment, no pydantic) and
trusts the record only while the fingerprint is the same; any change sends it the full way,
which validates, reports errors as always and records again.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from authgate import __version__
from authgate.config_sources import DEFAULT_DATA_DIR, ConfigSources
from authgate.private_files import write_private_file

if TYPE_CHECKING:
    from authgate.config import Settings

STAMP_NAME = "settings-checked.json"
# Settings named ``*_file`` that are paths authgate writes, not secrets read from a file (a
# test holds this equal to the models): their content is not an input of the validation.
PATH_SETTINGS = frozenset({"export_file", "verify_epoch_file"})


@dataclass(frozen=True)
class QuickSettings:
    """What the quick answer needs of the settings."""

    data_dir: Path
    # The database is data_dir/authgate.db and the data keys data_dir/keyring.json (no
    # database_url, no master key).
    local_store: bool
    providers: frozenset[str]
    default_owner: str


def quick_settings(settings: Settings) -> QuickSettings:
    return QuickSettings(settings.data_dir,
                         not (settings.database_url or settings.keyring.master_key),
                         frozenset(settings.providers), settings.vault.default_owner)


def remember(settings: Settings, checked: str) -> None:
    """Record that the sources with the ``fingerprint`` ``checked`` validated into ``settings``
    (when its data directory exists)."""
    quick = quick_settings(settings)
    if not quick.data_dir.is_dir():
        return
    content = json.dumps({
        "fingerprint": checked, "data_dir": str(quick.data_dir),
        "local_store": quick.local_store, "providers": sorted(quick.providers),
        "default_owner": quick.default_owner,
    }, sort_keys=True).encode()
    path = quick.data_dir / STAMP_NAME
    with contextlib.suppress(OSError):
        if path.read_bytes() == content:
            return
    # A user who may read the vault but not write its directory: the quick answer waits for a
    # command run by one who may; nothing else depends on the record.
    with contextlib.suppress(OSError):
        write_private_file(path, content)


def recall(sources: ConfigSources) -> QuickSettings | None:
    """The settings recorded for exactly these sources, or None: validate them."""
    data_dir = sources.tree.get("data_dir", str(DEFAULT_DATA_DIR))
    if not isinstance(data_dir, str):
        return None
    try:
        stamp = json.loads((Path(data_dir) / STAMP_NAME).read_bytes())
        if stamp["fingerprint"] != fingerprint(sources):
            return None
        providers = stamp["providers"]
        if not isinstance(providers, list) or not all(isinstance(p, str) for p in providers):
            return None
        return QuickSettings(Path(str(stamp["data_dir"])), stamp["local_store"] is True,
                             frozenset(providers), str(stamp["default_owner"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def fingerprint(sources: ConfigSources) -> str:
    """A digest of every input of the validation of ``sources``."""
    inputs = {
        "version": __version__,
        "path": str(sources.path.resolve()) if sources.path else "",
        "file": hashlib.sha256(sources.file_bytes).hexdigest(),
        "environment": sources.overrides,
        "secret_files": {name: _digest_of_file(name) for name in _secret_files(sources.tree)},
    }
    return hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()


def _secret_files(node: Any) -> Iterator[str]:
    """The paths given as ``<key>_file`` anywhere in the tree (secrets read by the models)."""
    if isinstance(node, dict):
        for key, value in node.items():
            if isinstance(key, str) and key.endswith("_file") and key not in PATH_SETTINGS \
                    and not isinstance(value, dict | list):
                yield str(value)
            else:
                yield from _secret_files(value)
    elif isinstance(node, list):
        for item in node:
            yield from _secret_files(item)


def _digest_of_file(name: str) -> str:
    try:
        return hashlib.sha256(Path(name).read_bytes()).hexdigest()
    except OSError as exc:
        return f"unreadable: {exc.errno}"
