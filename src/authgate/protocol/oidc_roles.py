"""Identity-provider roles from ID token claims, and their mapping to one local role.

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

# The local role that wins whenever it is among the mapped ones.
HIGHEST_ROLE = "admin"


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


def map_role(roles: Iterable[str], roles_map: Mapping[str, str], default_role: str) -> str:
    """The local role for a user holding the provider ``roles``.

    ``roles_map`` maps provider role → local role. When several provider roles are mapped, the
    choice is deterministic and does not depend on claim order: ``admin`` if it is among the
    mapped local roles, otherwise the alphabetically first one. No mapped role → ``default_role``.
    """
    mapped = {roles_map[role] for role in roles if role in roles_map}
    if not mapped:
        return default_role
    if HIGHEST_ROLE in mapped:
        return HIGHEST_ROLE
    return sorted(mapped)[0]


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
