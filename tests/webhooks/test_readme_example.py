"""The README's Python verification example, run as it is printed, against the real server."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest

from tests.harness import Child, connect_hh, free_port, wait_http, wait_until
from tests.webhooks.conftest import WebhookStack, start_webhook_stack
from tests.webhooks.harness import new_secret

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_example() -> str:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
    [example] = [b for b in blocks if "from standardwebhooks import" in b]
    return example


class Example(Child):
    name = "README webhook example"


# The example checks timestamps against the real time (5 minutes either way), so the tokens
# here live a minute and the clock moves only that far.
SHORT_LIFETIME = 60


@pytest.fixture
def short_lived_stack(tmp_path: Path) -> Iterator[WebhookStack]:
    with ExitStack() as cleanup:
        yield start_webhook_stack(tmp_path, cleanup, access_lifetime=SHORT_LIFETIME)


def test_the_readme_verification_example_works(short_lived_stack: WebhookStack) -> None:
    ws, stack = short_lived_stack, short_lived_stack.stack
    code = readme_example()
    assert len(code.strip().splitlines()) <= 20
    script = ws.tmp / "example.py"
    script.write_text(code)
    secret, port = new_secret(), free_port()
    (ws.tmp / "example.secret").write_text(secret)
    output = ws.tmp / "example.out"
    example = Example()
    try:
        with output.open("wb") as out:
            example.spawn([sys.executable, "-u", str(script)], stdout=out,
                          stderr=subprocess.STDOUT,
                          env={"WEBHOOK_SECRET": secret, "PORT": str(port), "PATH": "/usr/bin"})
        url = f"http://127.0.0.1:{port}/"
        wait_http(url, process=example.proc, log=output, any_answer=True)
        stack.gateway.cli("webhooks", "add", url, "--events", "connection.needs_reauth",
                          "--secret-file", str(ws.tmp / "example.secret"))
        connect_hh(stack.gateway.url, stack.api_key, "tg:42", account="10000001")
        stack.devidp.control("hh/revoke", {"account_id": "10000001"})
        stack.expire_tokens(SHORT_LIFETIME)
        wait_until(lambda: "send a new connect link to tg:42" in output.read_text(),
                   "the example's line for the event")
        forged = httpx.post(url, content=b'{"type": "connection.needs_reauth"}', headers={
            "webhook-id": "msg_forged", "webhook-timestamp": "1", "webhook-signature": "v1,AAAA"})
        assert forged.status_code == 400
    finally:
        example.end()
