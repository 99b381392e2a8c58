"""An independent webhook receiver, run as a process of its own: it verifies every delivery with
the ``standardwebhooks`` package (the Standard Webhooks reference verifier, not our code) and
records it; the test scripts its answers.

``python -m tests.webhooks.receiver PORT SECRET`` serves:
* ``POST /hook``: verify; answer the next scripted status (200 when none is left), or 400 when
  the signature does not verify;
* ``POST /_script`` ``{"answers": [500, 200]}``: the statuses to answer next;
* ``GET /_received``: every delivery so far (``id``, ``verified``, ``payload``, ``status``…).

Time: the verifier refuses a timestamp more than 5 minutes from its "now"; the gateway under
test runs on the test's shifted clock, so the receiver shares that clock (the test-only clock
file, as the devidp does) for the verifier's "now".
"""

from __future__ import annotations

import json
import sys
import threading
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import standardwebhooks.webhooks as standard
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from authgate.clock import TEST_CLOCK_FILE_ENV, OffsetClock


def _share_the_test_clock() -> None:
    import os
    from pathlib import Path

    path = os.environ.get(TEST_CLOCK_FILE_ENV)
    if not path:
        return
    clock = OffsetClock(Path(path))

    class ShiftedDatetime(datetime):
        @classmethod
        def now(cls, tz: Any = None) -> Any:
            return clock.now().astimezone(tz or UTC)

    standard.datetime = ShiftedDatetime  # type: ignore[misc]


class Receiver:
    def __init__(self, secret: str) -> None:
        self.webhook = Webhook(secret)
        self.lock = threading.Lock()
        self.received: list[dict[str, Any]] = []
        self.answers: list[int] = []

    def handle(self, body: bytes, headers: dict[str, str]) -> int:
        record: dict[str, Any] = {"id": headers.get("webhook-id"),
                                  "timestamp": headers.get("webhook-timestamp"),
                                  "body": body.decode(errors="replace")}
        try:
            record["payload"] = self.webhook.verify(body, headers)
            record["verified"] = True
        except WebhookVerificationError as exc:
            record["verified"], record["error"] = False, str(exc)
        with self.lock:
            status = (self.answers.pop(0) if self.answers else 200) if record["verified"] else 400
            record["status"] = status
            self.received.append(record)
        return status


def serve(port: int, secret: str) -> None:
    receiver = Receiver(secret)

    class Handler(BaseHTTPRequestHandler):
        def _reply(self, status: int, payload: Any) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length") or 0))
            if self.path == "/_script":
                with receiver.lock:
                    receiver.answers = list(json.loads(body)["answers"])
                self._reply(200, {"ok": True})
                return
            headers = {k.lower(): v for k, v in self.headers.items()}
            status = receiver.handle(body, headers)
            self._reply(status, {"ok": status < 300} if status != 500 else {"oops": "boom"})

        def do_GET(self) -> None:
            if self.path == "/_received":
                with receiver.lock:
                    self._reply(200, receiver.received)
            else:
                self._reply(200, {"ok": True})

        def log_message(self, format: str, *args: Any) -> None:
            pass

    class Server(ThreadingHTTPServer):
        # socketserver's default backlog is 5: a replica's batch of concurrent deliveries
        # overflows it, and a dropped SYN is sent again only a second later (or the connection
        # is reset), which made a volume test wait on TCP instead of on the gateways.
        request_queue_size = 1024

    _share_the_test_clock()
    server = Server(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    server.serve_forever()


if __name__ == "__main__":
    serve(int(sys.argv[1]), sys.argv[2])
