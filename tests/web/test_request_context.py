"""What a route reads from its request (web/request_context.py)."""

from __future__ import annotations

from authgate.web.request_context import bearer_token


def test_the_first_authorization_header_decides() -> None:
    bearer, basic = (b"authorization", b"Bearer k"), (b"authorization", b"Basic eDp5")
    assert bearer_token([(b"cookie", b"a=b"), bearer, basic]) == "k"
    assert bearer_token([basic, bearer]) is None
    assert bearer_token([(b"authorization", b"Bearer")]) is None  # no token after the scheme
    assert bearer_token([(b"authorization", b"bEaReR  k ")]) == "k"
    assert bearer_token([]) is None
