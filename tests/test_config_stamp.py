"""The record that a configuration validated, and when ``authgate token``'s quick answer may
trust it (``config_stamp``)."""

from __future__ import annotations

import typing
from pathlib import Path

from pydantic import BaseModel

from authgate.config import Settings, settings_from
from authgate.config_sources import read_config_sources
from authgate.config_stamp import (
    PATH_SETTINGS,
    STAMP_NAME,
    QuickSettings,
    fingerprint,
    recall,
    remember,
)

HH = '[providers.hh]\nkind = "hh"\nclient_id = "id"\nuser_agent = "A/1.0 (a@example.com)"\n'


def _models(model: type[BaseModel]) -> set[type[BaseModel]]:
    found = {model}
    for field in model.model_fields.values():
        for arg in (*typing.get_args(field.annotation), field.annotation):
            for inner in (arg, *typing.get_args(arg)):
                if isinstance(inner, type) and issubclass(inner, BaseModel) and inner not in found:
                    found |= _models(inner)
    return found


def test_the_path_settings_are_the_fields_named_file() -> None:
    """Every other ``*_file`` key names a secret whose content the validation reads."""
    named = {name for model in _models(Settings) for name in model.model_fields
             if name.endswith("_file")}
    assert named == PATH_SETTINGS


def _validated(config: Path, environ: dict[str, str]) -> None:
    sources = read_config_sources(config, environ)
    remember(settings_from(sources), fingerprint(sources))


def test_recalled_while_every_input_is_as_it_was(tmp_path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("s1")
    (tmp_path / "data").mkdir()
    config = tmp_path / "authgate.toml"
    config.write_text('data_dir = "data"\n[vault]\ndefault_owner = "tg:1"\n' + HH
                      + f'client_secret_file = "{secret}"\nexport_file = "{tmp_path}/t.json"\n')
    env = {"AUTHGATE_LOG_LEVEL": "debug"}
    assert recall(read_config_sources(config, env)) is None, "never validated"
    _validated(config, env)
    expected = QuickSettings(tmp_path / "data", True, frozenset({"hh"}), "tg:1")
    assert recall(read_config_sources(config, env)) == expected
    (tmp_path / "t.json").write_text("{}")  # a file authgate writes is not an input
    assert recall(read_config_sources(config, env)) == expected

    secret.write_text("s2")
    assert recall(read_config_sources(config, env)) is None, "a secret file changed"
    _validated(config, env)
    assert recall(read_config_sources(config, env)) == expected
    assert recall(read_config_sources(config, {})) is None, "the environment changed"
    assert recall(read_config_sources(config, {**env, "AUTHGATE_VAULT__DEFAULT_OWNER": "x"})) \
        is None
    config.write_text(config.read_text() + "\n")
    assert recall(read_config_sources(config, env)) is None, "the file changed"


def test_a_database_elsewhere_or_a_master_key_is_recorded(tmp_path) -> None:
    (tmp_path / "data").mkdir()
    config = tmp_path / "authgate.toml"
    config.write_text('data_dir = "data"\ndatabase_url = "postgresql://db/a"\n')
    _validated(config, {})
    recalled = recall(read_config_sources(config, {}))
    assert recalled is not None and not recalled.local_store


def test_nothing_is_written_without_a_data_dir_and_a_damaged_record_is_not_trusted(
        tmp_path) -> None:
    config = tmp_path / "authgate.toml"
    config.write_text('data_dir = "data"\n')
    _validated(config, {})
    assert not (tmp_path / "data").exists()
    (tmp_path / "data").mkdir()
    _validated(config, {})
    stamp = tmp_path / "data" / STAMP_NAME
    assert stamp.stat().st_mode & 0o777 == 0o600
    for damaged in ("{", "[]", '{"fingerprint": 1}', stamp.read_text().replace("true", "1")
                    .replace('"providers": []', '"providers": [1]')):
        stamp.write_text(damaged)
        assert recall(read_config_sources(config, {})) is None, damaged
