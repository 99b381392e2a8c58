"""Local role policy: mapping provider roles, and ``?role=`` requirements."""

from __future__ import annotations

from authgate.roles import map_role, meets_role


def test_map_role_prefers_admin_then_sorted() -> None:
    roles_map = {"owner": "admin", "editor": "editor", "viewer": "viewer"}
    assert map_role(["viewer", "owner", "editor"], roles_map, "user") == "admin"
    assert map_role(["viewer", "editor"], roles_map, "user") == "editor"
    assert map_role(["editor", "viewer"], roles_map, "user") == "editor"
    # "admin" wins even where another role sorts first.
    with_accountant = {"owner": "admin", "books": "accountant"}
    assert map_role(["books", "owner"], with_accountant, "user") == "admin"
    assert map_role({"unmapped"}, roles_map, "user") == "user"
    assert map_role([], roles_map, "user") == "user"


def test_meets_role_any_listed_and_admin_meets_all() -> None:
    assert meets_role("editor", "viewer, editor")
    assert not meets_role("viewer", "editor")
    assert not meets_role("viewer", " , ")
    assert meets_role("admin", "editor")
