"""Logging: one line per event, ``key=value`` (or JSON), no secrets.

Under systemd (``JOURNAL_STREAM`` set) the journal stamps each line itself, so we leave the time
out. A last-line-of-defence filter masks anything shaped like a credential in a message.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
from typing import Literal

_SECRET_PATTERNS = [
    re.compile(r"(?i)\b(access_token|refresh_token|id_token|code|password|client_secret|"
               r"session|api_key|key|token|code_verifier|state)=([^&\s\"']+)"),
    re.compile(r"(?i)\b(bearer)\s+([A-Za-z0-9._~+/=-]+)"),
]
# A Telegram Bot API URL carries the bot's token as a path segment: /bot123456:ABC-.../method.
_BOT_TOKEN_IN_PATH = re.compile(r"/bot[0-9]+:[A-Za-z0-9_-]+")


def redact(text: str) -> str:
    for pattern in _SECRET_PATTERNS:
        text = pattern.sub(lambda m: f"{m.group(1)}=***" if "=" in m.group(0)
                           else f"{m.group(1)} ***", text)
    return _BOT_TOKEN_IN_PATH.sub("/bot***", text)


class KeyValueFormatter(logging.Formatter):
    def __init__(self, *, with_time: bool) -> None:
        super().__init__()
        self.with_time = with_time

    def format(self, record: logging.LogRecord) -> str:
        message = redact(record.getMessage())
        parts = []
        if self.with_time:
            parts.append(f"ts={self.formatTime(record, '%Y-%m-%dT%H:%M:%S')}")
        parts += [f"level={record.levelname.lower()}", f"logger={record.name}",
                  f"msg={json.dumps(message, ensure_ascii=False)}"]
        if record.exc_info and record.exc_info[0] is not None:
            # The exception's type only: tracebacks can carry request data.
            parts.append(f"exc={record.exc_info[0].__name__}")
        return " ".join(parts)


class JsonFormatter(logging.Formatter):
    def __init__(self, *, with_time: bool) -> None:
        super().__init__()
        self.with_time = with_time

    def format(self, record: logging.LogRecord) -> str:
        body: dict[str, object] = {"level": record.levelname.lower(), "logger": record.name,
                                   "msg": redact(record.getMessage())}
        if self.with_time:
            body["ts"] = self.formatTime(record, "%Y-%m-%dT%H:%M:%S")
        if record.exc_info and record.exc_info[0] is not None:
            body["exc"] = record.exc_info[0].__name__
        return json.dumps(body, ensure_ascii=False)


def configure_logging(fmt: Literal["kv", "json"] = "kv", level: str = "info") -> None:
    with_time = "JOURNAL_STREAM" not in os.environ
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(with_time=with_time) if fmt == "json"
                         else KeyValueFormatter(with_time=with_time))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # httpx logs every request URL at INFO; URLs we call can carry codes in error cases.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    logging.getLogger("uvicorn.access").disabled = True
