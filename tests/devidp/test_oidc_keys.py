"""The look-alike's signing keys: made on first use, and saved the moment they are made."""

from __future__ import annotations

from typing import Any

from authgate.devidp.oidc_keys import KeyRing


def test_a_key_is_made_on_first_use_and_saved_before_it_signs() -> None:
    saved: list[dict[str, Any]] = []
    ring = KeyRing()
    ring.on_new_key = lambda: saved.append(ring.to_dict())
    assert ring.to_dict() == {"retired": []}  # saving alone makes no key
    assert saved == []

    token = ring.sign({"sub": "alice"})
    assert len(saved) == 1 and saved[0]["current"]["kid"] == ring.kid
    ring.sign({"sub": "bob"})
    assert len(saved) == 1  # one key, told once

    again = KeyRing.from_dict(saved[0])
    assert again.kid == ring.kid and token.count(".") == 2
    assert [k["kid"] for k in again.jwks()["keys"]] == [ring.kid]


def test_a_state_without_a_key_loads_without_one() -> None:
    ring = KeyRing.from_dict({"retired": []})
    assert ring.to_dict() == {"retired": []}
    assert ring.jwks()["keys"][0]["kid"] == ring.kid  # made when first published


def test_first_uses_at_once_make_one_key() -> None:
    from concurrent.futures import ThreadPoolExecutor

    made: list[int] = []
    ring = KeyRing(on_new_key=lambda: made.append(1))
    with ThreadPoolExecutor(8) as pool:
        kids = set(pool.map(lambda _: ring.kid, range(8)))
    assert len(kids) == 1 and made == [1]
