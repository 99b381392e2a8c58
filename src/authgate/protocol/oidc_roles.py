"""Identity-provider roles from ID token claims (what the provider says; authgate.roles decides).

Not a standard: each provider has its own shape. Understood here:

* ZITADEL: ``urn:zitadel:iam:org:project:roles`` (the client's project) and
  ``urn:zitadel:iam:org:project:<id>:roles`` (a named project), both shaped
  ``{"<role>": {"<orgId>": "<orgDomain>"}}`` — the role names are the keys.
* A list of strings (Keycloak client/realm mappers, most others): ``"roles": ["admin", ...]``.
* A single string: one role.
* A dotted name such as ``realm_access.roles`` walks nested objects (Keycloak's default shape)
  when no claim has that exact name.

Only the configured claim is read. In particular the roles of *other* ZITADEL projects are never
merged in: a token may carry them (when their audience was requested), and an ``admin`` there must
not become an ``admin`` here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

ZITADEL_PROJECT_PREFIX = "urn:zitadel:iam:org:project:"

def roles_from_claims(
    claims: Mapping[str, Any],
    roles_claim: str | None,
    project_roles_prefix: str = ZITADEL_PROJECT_PREFIX,
) -> set[str]:
    """The provider's role names found in ``roles_claim``; empty when not configured or absent."""
    if not roles_claim:
        return set()
    value = _lookup(claims, roles_claim)
    if isinstance(value, str):
        return {value} if value else set()
    if isinstance(value, list):
        return _names(value)
    if isinstance(value, Mapping):
        # Keycloak's ``realm_access`` / ``resource_access.<client>`` objects hold a "roles" list;
        # a ZITADEL claim is a mapping whose keys are the roles (one could be named "roles").
        nested = value.get("roles")
        if not roles_claim.startswith(project_roles_prefix) and isinstance(nested, list):
            return _names(nested)
        return _names(value.keys())
    return set()


def _lookup(claims: Mapping[str, Any], name: str) -> Any:
    if name in claims:
        return claims[name]
    value: Any = claims
    for part in name.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


def _names(items: Iterable[object]) -> set[str]:
    return {item for item in items if isinstance(item, str) and item}
