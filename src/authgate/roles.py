"""Local roles: which one a user gets from a provider's roles, and which roles meet a requirement.

Policy of this application, not of any protocol: ``admin`` outranks every other role.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

# The local role that wins whenever it is among the mapped ones, and meets every requirement.
HIGHEST_ROLE = "admin"


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


def meets_role(role: str, wanted: str) -> bool:
    """``wanted`` is ``a,b``: any of the listed roles; the highest role meets every requirement."""
    return role == HIGHEST_ROLE or role in {r.strip() for r in wanted.split(",") if r.strip()}
