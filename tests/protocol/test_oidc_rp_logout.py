from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from authgate.protocol.oidc_discovery import ProviderMetadata
from authgate.protocol.oidc_rp_logout import end_session_url
from tests.protocol.fake_idp import CLIENT_ID, ISSUER, FakeIdp


def metadata(idp: FakeIdp, end_session: str | None) -> ProviderMetadata:
    return ProviderMetadata.from_document({**idp.discovery, "end_session_endpoint": end_session},
                                          expected_issuer=ISSUER)


def test_none_without_end_session_endpoint(idp: FakeIdp) -> None:
    assert end_session_url(metadata(idp, None), client_id=CLIENT_ID) is None


def test_without_hint_sends_client_id_only(idp: FakeIdp) -> None:
    url = end_session_url(metadata(idp, f"{ISSUER}/logout?ui=1"), client_id=CLIENT_ID,
                          post_logout_redirect_uri="https://gw/bye", state="s1")
    assert url is not None
    parts = urlsplit(url)
    assert parts.path == "/logout"
    assert parse_qs(parts.query) == {"ui": ["1"], "client_id": [CLIENT_ID],
                                     "post_logout_redirect_uri": ["https://gw/bye"],
                                     "state": ["s1"]}


def test_with_hint(idp: FakeIdp) -> None:
    url = end_session_url(metadata(idp, f"{ISSUER}/logout"), client_id=CLIENT_ID,
                          id_token_hint="a.b.c")
    assert url is not None
    assert parse_qs(urlsplit(url).query) == {"client_id": [CLIENT_ID], "id_token_hint": ["a.b.c"]}
