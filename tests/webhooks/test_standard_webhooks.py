"""The signing module against the Standard Webhooks specification and its reference verifier."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime

import pytest
from standardwebhooks import Webhook

from authgate.webhooks.standard_webhooks import (
    InvalidSecret,
    generate_secret,
    headers,
    secret_key,
    sign,
)

# The specification's example (secret, id, timestamp, body and the signature it gives).
SPEC_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SPEC_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
SPEC_TIMESTAMP = 1614265330
SPEC_BODY = '{"test": 2432232314}'
SPEC_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_the_specifications_example() -> None:
    assert sign(secret_key(SPEC_SECRET), SPEC_ID, SPEC_TIMESTAMP, SPEC_BODY) == SPEC_SIGNATURE


def test_the_algorithm_spelled_out() -> None:
    key = secret_key(SPEC_SECRET)
    assert key == base64.b64decode(SPEC_SECRET.removeprefix("whsec_"))
    signed = f"{SPEC_ID}.{SPEC_TIMESTAMP}.{SPEC_BODY}".encode()
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    assert sign(key, SPEC_ID, SPEC_TIMESTAMP, SPEC_BODY) == "v1," + base64.b64encode(
        digest).decode()


def test_the_reference_verifier_accepts_our_headers() -> None:
    secret = generate_secret()
    now = int(datetime.now(UTC).timestamp())
    body = '{"type":"user.created","data":{"username":"ann"}}'
    sent = headers(secret_key(secret), "msg_1", now, body)
    assert set(sent) == {"webhook-id", "webhook-timestamp", "webhook-signature"}
    assert sent["webhook-timestamp"] == str(now)
    assert Webhook(secret).verify(body, sent) == {"type": "user.created",
                                                  "data": {"username": "ann"}}
    assert sign(secret_key(secret), "msg_1", now, body) == Webhook(secret).sign(
        "msg_1", datetime.fromtimestamp(now, UTC), body)


def test_generated_secrets_are_whsec_with_32_random_bytes() -> None:
    first, second = generate_secret(), generate_secret()
    assert first.startswith("whsec_") and first != second
    assert len(secret_key(first)) == 32
    assert secret_key(first.removeprefix("whsec_")) == secret_key(first)


@pytest.mark.parametrize("bad", ["whsec_", "whsec_not base64!", "whsec_c2hvcnQ=", ""])
def test_bad_secrets_are_refused(bad: str) -> None:
    with pytest.raises(InvalidSecret):
        secret_key(bad)
