"""Database URLs: SQLite by default; PostgreSQL needs the ``postgres`` extra (psycopg)."""

from __future__ import annotations

import sys

import pytest
from typer.testing import CliRunner

from authgate.cli.main import app
from authgate.errors import ConfigError
from authgate.store.db import database_url


def test_urls(tmp_path):
    assert database_url("", tmp_path) == f"sqlite:///{tmp_path / 'authgate.db'}"
    assert database_url("sqlite:///x.db", tmp_path) == "sqlite:///x.db"
    for url in ("postgresql://u:p@h/db", "postgres://u:p@h/db", "postgresql+psycopg://u:p@h/db"):
        assert database_url(url, tmp_path) == "postgresql+psycopg://u:p@h/db"
    with pytest.raises(ConfigError, match="database_url: expected"):
        database_url("mysql://h/db", tmp_path)


def test_postgres_without_psycopg_names_the_extra(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "psycopg", None)  # what an install without the extra sees
    with pytest.raises(ConfigError, match=r"psycopg.*pip install 'authgate\[postgres\]'"):
        database_url("postgresql://u:p@h/db", tmp_path)
    assert database_url("", tmp_path).startswith("sqlite:///")  # SQLite does not need it

    config = tmp_path / "authgate.toml"
    config.write_text(f'data_dir = "{tmp_path / "data"}"\n'
                      'database_url = "postgresql://u:p@127.0.0.1:1/db"\n')
    result = CliRunner().invoke(app, ["status", "--config", str(config)])
    assert result.exit_code == 2, result.output
    assert "configuration error: database_url: PostgreSQL needs the psycopg driver" in \
        result.output
    assert "pip install 'authgate[postgres]'" in result.output
    assert isinstance(result.exception, SystemExit)  # no ImportError traceback
