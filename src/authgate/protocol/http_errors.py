"""How a call to a provider can fail, classified once for every caller.

Network trouble, 429 and 5xx are transient. The error code tells a connect error
(``provider_unreachable``: the request never left) from a timeout (``provider_timeout``: the
provider may have acted on it), for people reading logs; a single-use refresh token is retried
the same way after either, since only the provider knows whether it was spent.
"""

from __future__ import annotations

from collections.abc import Awaitable

import httpx

from authgate.errors import ProviderError, ProviderUnavailable

# One parser for the client and the server (the server depends on the client's distribution).
from authgate_vault_client.wire import retry_after_seconds


async def send(call: Awaitable[httpx.Response], *, what: str) -> httpx.Response:
    """Await an httpx call; transport failures become transient ``ProviderError``s."""
    try:
        return await call
    except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
        raise ProviderError(f"cannot reach the provider for its {what} ({type(exc).__name__})",
                            transient=True, error="provider_unreachable") from None
    except httpx.HTTPError as exc:
        # Sent, but no answer: the provider may have acted on it.
        raise ProviderError(f"no answer from the provider for its {what} ({type(exc).__name__})",
                            transient=True, error="provider_timeout") from None


def raise_for_unavailable(response: httpx.Response, *, what: str) -> None:
    """429 and 5xx: the provider is overloaded or broken right now; try later."""
    status = response.status_code
    if status == 429 or status >= 500:
        raise ProviderUnavailable(
            f"the provider answered HTTP {status} for its {what}",
            retry_after=retry_after_seconds(response.headers.get("retry-after")))
