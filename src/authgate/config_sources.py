"""Where the configuration comes from: the TOML file and the ``AUTHGATE_*`` environment, read
and merged into one tree before anything validates it (``config.settings_from``).

Free of pydantic on purpose: ``authgate token``'s quick answer reads the sources to find its
record of their last validation (``config_stamp``) without paying for the models.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from authgate.errors import ConfigError

ENV_PREFIX = "AUTHGATE_"
CONFIG_ENV = "AUTHGATE_CONFIG"
DEFAULT_CONFIG = Path("authgate.toml")
DEFAULT_DATA_DIR = Path("./authgate-data")
# The top-level settings (``config.Settings``' fields; a test holds the two lists equal): their
# names are case-insensitive in the file.
TOP_LEVEL_KEYS = frozenset({
    "public_url", "listen", "data_dir", "database_url", "trusted_proxies", "max_request_body",
    "log_format", "log_level", "session", "login", "vault", "keyring", "proxy", "telegram",
    "providers", "webhooks",
})


@dataclass(frozen=True)
class ConfigSources:
    """The merged tree, and where it came from."""

    path: Path | None
    file_bytes: bytes
    overrides: dict[str, Any]
    tree: dict[str, Any]

    @property
    def source(self) -> str:
        """How an error names the file."""
        return str(self.path) if self.path else "(no config file)"


def resolve_config_path(explicit: Path | None, environ: Mapping[str, str]) -> Path | None:
    if explicit is not None:
        return explicit
    if environ.get(CONFIG_ENV):
        return Path(environ[CONFIG_ENV])
    return DEFAULT_CONFIG if DEFAULT_CONFIG.exists() else None


def read_config_sources(path: Path | None, environ: Mapping[str, str]) -> ConfigSources:
    """The file (``path``, else ``AUTHGATE_CONFIG``, else ./authgate.toml when present) with
    the environment over it, or ``ConfigError`` when the file cannot be read or parsed."""
    config_path = resolve_config_path(path, environ)
    data: dict[str, Any] = {}
    raw = b""
    if config_path is not None:
        source = str(config_path)
        try:
            raw = config_path.read_bytes()
            data = _fold_case(tomllib.loads(raw.decode("utf-8")))
        except OSError as exc:
            raise ConfigError(f"{source}: cannot read: {exc.strerror}") from None
        except UnicodeDecodeError:
            raise ConfigError(f"{source}: not valid TOML: not UTF-8") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{source}: not valid TOML: {exc}") from None
    overrides = _env_overrides(environ)
    tree = _merge(data, overrides)
    data_dir = tree.get("data_dir", str(DEFAULT_DATA_DIR))
    if config_path is not None and isinstance(data_dir, str) and not Path(data_dir).is_absolute():
        # Relative paths in a config file are relative to the file, not to the working directory.
        tree["data_dir"] = str((config_path.parent / data_dir).resolve())
    return ConfigSources(config_path, raw, overrides, tree)


def _env_overrides(environ: Mapping[str, str]) -> dict[str, Any]:
    """``AUTHGATE_PROVIDERS__HH__CLIENT_SECRET=x`` → ``{"providers": {"hh": {...}}}``.

    Values that parse as JSON (lists, numbers, booleans) are taken as such; anything else is a
    string. ``AUTHGATE_CONFIG`` names the file and is not a key.
    """
    tree: dict[str, Any] = {}
    for name, raw in environ.items():
        if not name.upper().startswith(ENV_PREFIX) or name.upper() == CONFIG_ENV:
            continue
        path = [p.lower() for p in name[len(ENV_PREFIX):].split("__")]
        if not all(path):
            continue
        try:
            value: Any = json.loads(raw)
            if isinstance(value, dict):
                value = raw
        except ValueError:
            value = raw
        node = tree
        for part in path[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                break
        else:
            node[path[-1]] = value
    return tree


def _fold_case(data: Mapping[str, Any]) -> dict[str, Any]:
    """Top-level keys are case-insensitive (``Public_URL``): known ones are lowercased, first wins.

    Unknown keys keep their spelling, for the error message.
    """
    out: dict[str, Any] = {}
    for key, value in data.items():
        out.setdefault(key.lower() if key.lower() in TOP_LEVEL_KEYS else key, value)
    return out


def _merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        # A value and its "_file" form are one setting: whichever the override gives wins.
        out.pop(key.removesuffix("_file") if key.endswith("_file") else f"{key}_file", None)
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out
