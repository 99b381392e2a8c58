"""``authgate users import`` of an existing panel's users.json, and ``users export`` back."""

from __future__ import annotations

import json

from tests.harness import assert_no_secrets
from tests.launch import cheap_hasher

BCRYPT = "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW"


def seed() -> dict[str, dict[str, object]]:
    # The admin's hash has the parameters the test gateway hashes with (tests/launch.py), so
    # signing in keeps it as it is and the export gives back the very string imported (a hash
    # with other parameters is rehashed at sign-in: tests/signin/test_services.py).
    return {
        "admin": {"username": "admin", "password": cheap_hasher().hash("seed admin pass"),
                  "role": "admin", "servers": ["de-1", "fi-2"], "oidc_id": None,
                  "email": "admin@panel.example", "name": "Panel Admin", "picture": None,
                  "provider": "local", "created_at": "2024-05-01T10:00:00Z"},
        "plain": {"username": "plain", "password": "plain text pass", "role": "user",
                  "servers": [], "oidc_id": None, "email": None, "name": None,
                  "picture": None, "provider": "local", "created_at": "2024-06-02T11:30:00+00:00"},
        "legacy": {"username": "legacy", "password": BCRYPT, "role": "user", "servers": ["x"],
                   "oidc_id": None, "email": "legacy@panel.example", "name": "Legacy",
                   "picture": None, "provider": "local", "created_at": 1717322400000},
        "bobby": {"username": "bobby", "password": None, "role": "operator",
                  "servers": ["de-1"], "oidc_id": "dev:310000000000000002",
                  "email": "bob@example.com", "name": "Bob From Seed",
                  "picture": "https://example.com/old.png", "provider": "zitadel",
                  "created_at": "2023-01-15T08:00:00Z", "telegram_id": 4242},
    }


def test_import_keeps_what_it_can_and_round_trips(stack, tmp_path):
    users = seed()
    path = tmp_path / "users.json"
    path.write_text(json.dumps(users))
    report = stack.gateway.cli("users", "import", str(path)).stdout
    assert "created admin: password kept" in report
    assert "created plain: password hashed" in report
    assert "created legacy: password refused: bcrypt hash cannot be verified" in report
    assert "set-password legacy" in report
    assert "imported 4 users; 1 without a usable password" in report

    browser = stack.browser()
    assert browser.password_signin("admin", "seed admin pass").status_code == 303
    assert browser.me().json()["role"] == "admin"
    assert stack.browser().password_signin("plain", "plain text pass").status_code == 303
    assert stack.browser().password_signin("legacy", "anything").status_code == 401

    # The seeded link: bob's OpenID sign-in finds "bobby" (no new user), refreshes the profile
    # and re-maps the role: bob's provider roles map to nothing, so default_role replaces
    # the seeded "operator".
    bob = stack.browser()
    assert bob.oidc_signin(login_hint="bob@example.com").status_code == 303
    me = bob.me().json()
    assert (me["username"], me["role"], me["name"]) == ("bobby", "user", "Bob User")

    exported = json.loads(stack.gateway.cli("users", "export").stdout)
    assert sorted(exported) == sorted(users)
    for name, original in users.items():
        got = exported[name]
        for key, value in original.items():
            if key == "password" or (name == "bobby" and key in ("name", "picture", "role")):
                continue
            assert got[key] == value, (name, key)
    assert exported["admin"]["password"] == users["admin"]["password"]
    assert exported["plain"]["password"].startswith("$argon2id$")
    assert exported["legacy"]["password"] is None
    assert exported["bobby"]["name"] == "Bob User"  # updated by the sign-in

    # A second import updates in place (and is all-or-nothing: a bad entry changes nothing).
    again = stack.gateway.cli("users", "import", str(path)).stdout
    assert "updated admin" in again
    users["broken"] = {"oidc_id": "no-colon"}
    path.write_text(json.dumps(users))
    failed = stack.gateway.cli("users", "import", str(path), check=False)
    assert failed.returncode == 1 and "oidc_id" in failed.stderr
    assert "broken" not in json.loads(stack.gateway.cli("users", "export").stdout)
    assert_no_secrets([stack.gateway.log_text()], ["plain text pass", "seed admin pass"])
