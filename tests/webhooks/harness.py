"""The webhook receiver process and the helpers the webhook tests share."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import httpx

from authgate.store.models import OutboxMessage
from tests.harness import ClockFile, Process, free_port, wait_until

RECEIVER = [sys.executable, "-m", "tests.webhooks.receiver"]


class ReceiverProcess(Process):
    """``tests.webhooks.receiver`` on loopback: verifies with ``standardwebhooks``."""

    name = "webhook receiver"

    def __init__(self, tmp: Path, secret: str, clock: ClockFile, *,
                 port: int | None = None) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.secret = secret
        root = str(Path(__file__).resolve().parents[2])
        super().__init__([*RECEIVER, str(self.port), secret], tmp / f"receiver-{self.port}.log",
                         f"{self.url}/healthz",
                         env={**clock.env, "PYTHONPATH": _pythonpath(root)}, exec_python=True)

    @property
    def hook_url(self) -> str:
        return f"{self.url}/hook"

    def script(self, *answers: int) -> None:
        httpx.post(f"{self.url}/_script", json={"answers": list(answers)}).raise_for_status()

    def received(self) -> list[dict[str, Any]]:
        answer = httpx.get(f"{self.url}/_received")
        answer.raise_for_status()
        records: list[dict[str, Any]] = answer.json()
        return records

    def delivered(self) -> list[dict[str, Any]]:
        """Verified deliveries it answered 2xx."""
        return [r for r in self.received() if r["verified"] and r["status"] < 300]

    def wait_for(self, count: int, what: str, *, idle_bound: float = 20.0) -> list[dict[str, Any]]:
        def enough() -> list[dict[str, Any]] | None:
            delivered = self.delivered()
            return delivered if len(delivered) >= count else None

        found: list[dict[str, Any]] = wait_until(
            enough, f"{what}: {count} verified deliveries", idle_bound=idle_bound,
            interval=0.1)
        return found


def _pythonpath(root: str) -> str:
    import os

    parts = [root, os.path.join(root, "src"), os.path.join(root, "clients", "python")]
    existing = os.environ.get("PYTHONPATH")
    return os.pathsep.join(parts + ([existing] if existing else []))



def webhook_config(url: str, secret_file: Path, events: list[str] | None = None) -> str:
    lines = ["", "[[webhooks]]", f'url = "{url}"', f'secret_file = "{secret_file}"']
    if events is not None:
        lines.append("events = [" + ", ".join(f'"{e}"' for e in events) + "]")
    return "\n".join(lines) + "\n"


def outbox_rows(config: Path, clock: ClockFile) -> list[OutboxMessage]:
    """Every outbox row, oldest first, read from the gateway's database."""
    from sqlalchemy import select

    from authgate.config import load_settings
    from authgate.runtime import Runtime

    runtime = Runtime.open(load_settings(config), clock=clock.clock())
    try:
        with runtime.db() as s:
            return list(s.scalars(select(OutboxMessage).order_by(OutboxMessage.seq)))
    finally:
        runtime.engine.dispose()


def new_secret() -> str:
    from authgate.webhooks.standard_webhooks import generate_secret

    return generate_secret()
