from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from authgate.protocol.oidc_discovery import ProviderMetadata
from authgate.protocol.oidc_rp_logout import end_session_form, end_session_url
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


def test_the_form_carries_the_hint_in_its_body(idp: FakeIdp) -> None:
    form = end_session_form(metadata(idp, f"{ISSUER}/logout?ui=1"), client_id=CLIENT_ID,
                            id_token_hint="a.b.c", post_logout_redirect_uri="https://gw/bye")
    assert form is not None
    assert form.action == f"{ISSUER}/logout?ui=1"
    assert form.fields == [("client_id", CLIENT_ID), ("id_token_hint", "a.b.c"),
                           ("post_logout_redirect_uri", "https://gw/bye")]
    assert "a.b.c" not in repr(form)


def test_the_form_without_a_hint_or_an_endpoint(idp: FakeIdp) -> None:
    form = end_session_form(metadata(idp, f"{ISSUER}/logout"), client_id=CLIENT_ID,
                            id_token_hint=None)
    assert form is not None and form.fields == [("client_id", CLIENT_ID)]
    assert end_session_form(metadata(idp, None), client_id=CLIENT_ID, id_token_hint="x") is None
