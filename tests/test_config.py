from __future__ import annotations

from datetime import timedelta

import pytest

from authgate.config import load_settings
from authgate.errors import ConfigError

HH = '[providers.hh]\nkind = "hh"\nclient_id = "id"\nuser_agent = "A/1.0 (a@example.com)"\n'


def test_file_env_and_secret_files(tmp_path):
    secret = tmp_path / "hh.secret"
    secret.write_text("from-file\n")
    config = tmp_path / "authgate.toml"
    config.write_text('data_dir = "data"\n[session]\nlifetime = "12h"\n' + HH
                      + f'client_secret_file = "{secret}"\n')
    settings = load_settings(config, {})
    assert settings.providers["hh"].client_secret == "from-file"
    assert settings.session.lifetime == timedelta(hours=12)
    assert settings.data_dir == tmp_path / "data"  # relative to the file
    assert settings.providers["hh"].use == ["connect"]
    assert settings.redirect_uri("hh") == "http://127.0.0.1:8000/auth/hh/callback"

    env = {"AUTHGATE_PROVIDERS__HH__CLIENT_SECRET": "from-env",
           "AUTHGATE_SESSION__LIFETIME": "90s", "AUTHGATE_TRUSTED_PROXIES": '["10.0.0.1"]',
           "AUTHGATE_PUBLIC_URL": "https://auth.example.com"}
    settings = load_settings(config, env)
    assert settings.providers["hh"].client_secret == "from-env"
    assert settings.session.lifetime == timedelta(seconds=90)
    assert settings.trusted_proxies == ["10.0.0.1"]
    assert settings.is_https


@pytest.mark.parametrize(("text", "env", "expected"), [
    ('public_url = "ftp://x"\n', {}, "public_url"),
    ('listen = "8000"\n', {}, "listen"),
    ('[session]\nlifetime = "soon"\n', {}, "session.lifetime"),
    ("bogus = 1\n", {}, "bogus: unknown key"),
    (HH + "colour = 1\n", {}, "providers.hh.colour: unknown key"),
    ('[providers.z]\nkind = "oidc"\nclient_id = "c"\n', {}, "needs issuer"),
    ("", {"AUTHGATE_SESSION__NOPE": "1"}, "environment: session.nope: unknown key"),
    (HH + 'callback_path = "//evil"\n', {}, "callback_path"),
    ('[vault]\npoll_interval = "10ms"\n', {}, "vault.poll_interval"),
    ('[vault]\npoll_interval = "2m"\n', {}, "vault.poll_interval"),
])
def test_bad_values_name_the_key_and_the_source(tmp_path, text, env, expected):
    config = tmp_path / "authgate.toml"
    config.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_settings(config, env)
    assert expected in info.value.detail
    if not env:
        assert str(config) in info.value.detail


def test_missing_secret_file_is_named(tmp_path):
    config = tmp_path / "authgate.toml"
    config.write_text(HH + 'client_secret_file = "/nonexistent/secret"\n')
    with pytest.raises(ConfigError, match="client_secret_file"):
        load_settings(config, {})


def test_environment_details(tmp_path):
    secret = tmp_path / "s"
    secret.write_text("from-env-file\n")
    config = tmp_path / "authgate.toml"
    # Top-level keys are case-insensitive; the environment still wins over any spelling.
    config.write_text('LISTEN = "0.0.0.0:1"\n[Session]\nlifetime = "7d"\n' + HH
                      + 'client_secret = "in-file"\n')
    settings = load_settings(config, {
        "authgate_listen": "0.0.0.0:2", "AUTHGATE_SESSION__LIFETIME": "15m",
        "AUTHGATE_PROVIDERS__HH__CLIENT_SECRET_FILE": str(secret),
        "AUTHGATE_CONFIG": "/ignored", "AUTHGATEX": "not ours"})
    assert settings.listen == "0.0.0.0:2"
    assert settings.session.lifetime == timedelta(minutes=15)
    assert settings.providers["hh"].client_secret == "from-env-file"
    assert load_settings(config, {"AUTHGATE_SESSION__LIFETIME": "3600"}).session.lifetime \
        == timedelta(hours=1)
    with pytest.raises(ConfigError, match="environment: bogus: unknown key"):
        load_settings(config, {"AUTHGATE_BOGUS": "1"})


def test_proxy_settings_and_paths(tmp_path):
    config = tmp_path / "authgate.toml"
    config.write_text('[proxy]\nmax_request_body = 4096\nmax_retry_after = "3s"\n' + HH
                      + 'proxy_paths = ["/me", "/vacancies/"]\n')
    settings = load_settings(config, {})
    assert settings.proxy.max_request_body == 4096
    assert settings.proxy.max_retry_after == timedelta(seconds=3)
    assert settings.providers["hh"].proxy_paths == ["/me", "/vacancies"]
    for bad in ("me", "/a/../b", "/a//b", "/a%2Fb", "/a\\\\b", "/.."):
        config.write_text(HH + f'proxy_paths = ["{bad}"]\n')
        with pytest.raises(ConfigError, match=r"providers\.hh\.proxy_paths"):
            load_settings(config, {})


BOT_TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw-x"


def test_telegram_is_optional_and_reads_its_token_from_a_file(tmp_path):
    config = tmp_path / "authgate.toml"
    config.write_text(HH)
    assert load_settings(config, {}).telegram is None
    token_file = tmp_path / "bot.token"
    token_file.write_text(BOT_TOKEN + "\n")
    config.write_text(HH + f'[telegram]\nbot_token_file = "{token_file}"\n'
                      'chat_interval = "30s"\n')
    telegram = load_settings(config, {}).telegram
    assert telegram is not None
    assert telegram.bot_token.get_secret_value() == BOT_TOKEN
    assert BOT_TOKEN not in repr(telegram)
    assert telegram.api_base == "https://api.telegram.org"
    assert telegram.default_language == "en"
    assert telegram.chat_interval == timedelta(seconds=30)
    env = {"AUTHGATE_TELEGRAM__API_BASE": "http://127.0.0.1:9000/telegram/",
           "AUTHGATE_TELEGRAM__DEFAULT_LANGUAGE": "ru"}
    telegram = load_settings(config, env).telegram
    assert telegram is not None
    assert telegram.api_base == "http://127.0.0.1:9000/telegram"
    assert telegram.default_language == "ru"


@pytest.mark.parametrize(("text", "expected"), [
    ("[telegram]\n", "telegram.bot_token: Field required"),
    ('[telegram]\nbot_token = "123456789:short"\n', "telegram.bot_token: Value error"),
    ('[telegram]\nbot_token = "no colon AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"\n',
     "telegram.bot_token"),
    (f'[telegram]\nbot_token = "{BOT_TOKEN}"\napi_base = "ftp://x"\n', "telegram.api_base"),
    (f'[telegram]\nbot_token = "{BOT_TOKEN}"\ndefault_language = "de"\n',
     "telegram.default_language"),
    (f'[telegram]\nbot_token = "{BOT_TOKEN}"\nchat = 1\n', "telegram.chat: unknown key"),
])
def test_bad_telegram_settings_are_named_without_the_token(tmp_path, text, expected):
    config = tmp_path / "authgate.toml"
    config.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_settings(config, {})
    assert expected in info.value.detail
    for secret in (BOT_TOKEN, "short", "AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"):
        assert secret not in info.value.detail


def test_the_refresh_engine_polls_as_often_as_configured(tmp_path):
    config = tmp_path / "authgate.toml"
    config.write_text('[vault]\npoll_interval = "250ms"\n')
    assert load_settings(config, {}).vault.poll_interval == timedelta(milliseconds=250)
    config.write_text("")
    assert load_settings(config, {}).vault.poll_interval == timedelta(seconds=1)
