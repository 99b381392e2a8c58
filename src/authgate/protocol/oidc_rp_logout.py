"""OpenID Connect RP-Initiated Logout 1.0 — the URL that ends the session at the provider."""

from __future__ import annotations

from authlib.common.urls import add_params_to_uri

from authgate.protocol.oidc_discovery import ProviderMetadata


def end_session_url(
    metadata: ProviderMetadata,
    *,
    client_id: str,
    post_logout_redirect_uri: str | None = None,
    id_token_hint: str | None = None,
    state: str | None = None,
) -> str | None:
    """The browser redirect to the provider's end-session endpoint; None when it has none.

    Trade-off for the caller: ``id_token_hint`` puts an ID token in a URL we build for a browser,
    which SPEC otherwise forbids for tokens. It is the standard mechanism, and some providers
    (e.g. node oidc-provider) then log out without asking. Leave it None to keep tokens out of
    URLs: ``client_id`` alone still lets the provider validate ``post_logout_redirect_uri``
    (§2, §3), though it may show a logout confirmation page. ``client_id`` is always sent; when
    both are present the provider checks they agree.
    """
    if metadata.end_session_endpoint is None:
        return None
    params: list[tuple[str, str]] = [("client_id", client_id)]
    if id_token_hint is not None:
        params.append(("id_token_hint", id_token_hint))
    if post_logout_redirect_uri is not None:
        params.append(("post_logout_redirect_uri", post_logout_redirect_uri))
    if state is not None:
        params.append(("state", state))
    return str(add_params_to_uri(metadata.end_session_endpoint, params))
