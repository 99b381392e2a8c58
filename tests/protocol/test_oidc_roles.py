from __future__ import annotations

from typing import Any

import pytest

from authgate.protocol.oidc_roles import roles_from_claims

ZITADEL = "urn:zitadel:iam:org:project:roles"
ZITADEL_P1 = "urn:zitadel:iam:org:project:111:roles"

CLAIMS: dict[str, Any] = {
    ZITADEL: {"admin": {"2001": "acme.zitadel.cloud"}, "viewer": {"2001": "acme.zitadel.cloud"}},
    ZITADEL_P1: {"editor": {"2001": "acme.zitadel.cloud"}},
    "urn:zitadel:iam:org:project:999:roles": {"owner": {"2001": "acme.zitadel.cloud"}},
    "roles": ["ops", "", 3],
    "group": "staff",
    "realm_access": {"roles": ["realm-admin", "offline_access"]},
    "resource_access": {"authgate": {"roles": ["panel-user"]}},
}


@pytest.mark.parametrize(("claim", "expected"), [
    (ZITADEL, {"admin", "viewer"}),  # other projects' roles are not merged in
    (ZITADEL_P1, {"editor"}),
    ("roles", {"ops"}),
    ("group", {"staff"}),
    ("realm_access", {"realm-admin", "offline_access"}),
    ("realm_access.roles", {"realm-admin", "offline_access"}),
    ("resource_access.authgate.roles", {"panel-user"}),
    ("missing", set()),
    ("realm_access.missing", set()),
    (None, set()),
])
def test_roles_from_claims(claim: str | None, expected: set[str]) -> None:
    assert roles_from_claims(CLAIMS, claim) == expected


def test_zitadel_role_named_roles_is_a_role() -> None:
    claims = {ZITADEL: {"roles": ["x"], "admin": {}}}
    assert roles_from_claims(claims, ZITADEL) == {"roles", "admin"}
