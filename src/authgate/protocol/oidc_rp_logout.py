"""OpenID Connect RP-Initiated Logout 1.0 — ending the session at the provider.

Two shapes of the same request (§2: "OPs MUST support the use of the HTTP GET and POST
methods"):

- ``end_session_url``: a redirect (the default, and what a panel's script can follow). It never
  carries a token; ``client_id`` alone lets the provider check ``post_logout_redirect_uri``
  (§2, §3), and the provider finds its session by its own cookie, though it may ask the person
  to confirm.
- ``end_session_form``: a form the browser POSTs. It may carry ``id_token_hint``, which keeps the
  ID token out of every URL (SPEC forbids tokens in URLs we build, and URLs end up in logs and
  histories) while the provider still learns whom to log out. The catch: a cross-site POST
  carries none of the provider's ``SameSite=Lax`` cookies, and not every provider accepts POST
  there, so this is a per-provider choice.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from authgate.protocol.oidc_discovery import ProviderMetadata
from authgate.protocol.urls import add_params_to_uri


@dataclass(frozen=True)
class EndSessionForm:
    """``<form method="post" action={action}>`` with ``fields`` as hidden inputs."""

    action: str
    fields: list[tuple[str, str]] = field(repr=False)


def _params(client_id: str, post_logout_redirect_uri: str | None,
            state: str | None) -> list[tuple[str, str]]:
    # client_id is always sent: with a hint, the provider checks that the two agree.
    params = [("client_id", client_id)]
    if post_logout_redirect_uri is not None:
        params.append(("post_logout_redirect_uri", post_logout_redirect_uri))
    if state is not None:
        params.append(("state", state))
    return params


def end_session_url(
    metadata: ProviderMetadata,
    *,
    client_id: str,
    post_logout_redirect_uri: str | None = None,
    state: str | None = None,
) -> str | None:
    """The browser redirect to the end-session endpoint, without a hint; None when the
    provider has no such endpoint."""
    if metadata.end_session_endpoint is None:
        return None
    return add_params_to_uri(metadata.end_session_endpoint,
                             _params(client_id, post_logout_redirect_uri, state))


def end_session_form(
    metadata: ProviderMetadata,
    *,
    client_id: str,
    id_token_hint: str | None,
    post_logout_redirect_uri: str | None = None,
    state: str | None = None,
) -> EndSessionForm | None:
    """The end-session request as a POST form; None when the provider has no such endpoint."""
    if metadata.end_session_endpoint is None:
        return None
    fields = _params(client_id, post_logout_redirect_uri, state)
    if id_token_hint is not None:
        fields.insert(1, ("id_token_hint", id_token_hint))
    return EndSessionForm(metadata.end_session_endpoint, fields)
