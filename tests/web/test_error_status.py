"""Which HTTP status an authgate error becomes: decided by its class, not by its code."""

from __future__ import annotations

import httpx
import pytest

from authgate.errors import ProviderError, ProviderUnavailable
from authgate.protocol.http_errors import raise_for_unavailable
from authgate.web.errors import status_of


@pytest.mark.parametrize("status", [429, 500, 503])
def test_a_provider_that_cannot_serve_now_is_503(status: int) -> None:
    response = httpx.Response(status, headers={"Retry-After": "7"})
    with pytest.raises(ProviderUnavailable) as caught:
        raise_for_unavailable(response, what="token endpoint")
    assert caught.value.transient and caught.value.retry_after == 7
    assert (caught.value.error, status_of(caught.value)) == ("provider_unavailable", 503)
    assert status_of(ProviderUnavailable("the stored token has expired", retry_after=30)) == 503


def test_other_provider_errors_are_502_whatever_their_code() -> None:
    assert status_of(ProviderError("no answer", transient=True, error="provider_timeout")) == 502
    assert status_of(ProviderError("odd", transient=False, error="provider_unavailable")) == 502
