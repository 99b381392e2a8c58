from __future__ import annotations

import logging

from authgate.logs import KeyValueFormatter, redact


def _record(message: str) -> logging.LogRecord:
    return logging.LogRecord("authgate.test", logging.INFO, __file__, 1, message, None, None)


def test_one_line_key_value_without_time_under_journald():
    line = KeyValueFormatter(with_time=False).format(_record('connected owner=x note="a\nb"'))
    assert "\n" not in line and not line.startswith("ts=")
    assert line.startswith("level=info logger=authgate.test msg=")
    assert KeyValueFormatter(with_time=True).format(_record("x")).startswith("ts=")


def test_redaction_masks_credentials_in_messages():
    text = redact("GET /cb?code=abc123&state=xyz access_token=tok1 Authorization: Bearer eyJhbGc")
    for secret in ("abc123", "xyz", "tok1", "eyJhbGc"):
        assert secret not in text


def test_redaction_masks_a_bot_token_in_a_telegram_url():
    text = redact("POST /telegram/bot123456789:AAHdqTcvCH1vGWJx-_fSeo/sendMessage status=200")
    assert "AAHdqTcvCH1vGWJx" not in text and "123456789" not in text
    assert "/telegram/bot***/sendMessage status=200" in text
