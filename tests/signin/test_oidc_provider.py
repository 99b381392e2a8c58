"""The same sign-in against a certified OpenID provider: panva's oidc-provider under Node."""

from __future__ import annotations

import json
import shutil
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.harness import (
    Gateway,
    assert_no_jwt,
    assert_no_secrets,
    free_port,
    skip_unless_installed,
)
from tests.signin.conftest import (
    Browser,
    OidcProvider,
    ensure_node_modules,
    op_signin,
    submit_op_page,
)

pytestmark = [pytest.mark.node,
              skip_unless_installed(shutil.which("node") is not None, "Node")]


@pytest.fixture(scope="module")
def op_stack(tmp_path_factory):
    ensure_node_modules()
    tmp = tmp_path_factory.mktemp("op")
    port = free_port()
    gateway_url = f"http://127.0.0.1:{port}"
    op = OidcProvider(tmp, gateway_url=gateway_url)
    gateway = Gateway(tmp, port=port, body=op.provider_config())
    with op, gateway:  # both end however the module's tests end, or a start fails
        op.start()
        gateway.start()
        yield op, gateway


def test_signin_with_a_certified_provider(op_stack):
    op, gateway = op_stack
    browser = Browser(gateway.url)
    start = browser.get(f"{gateway.url}/auth/op/login")
    query = parse_qs(urlsplit(start.headers["location"]).query)
    assert query["code_challenge_method"] == ["S256"] and query["nonce"]

    done = op_signin(browser, gateway.url, "admin.ops")
    assert done.status_code == 303, done.text
    me = browser.me().json()
    assert me == {"username": "admin.ops", "role": "admin", "email": "admin.ops@provider.test",
                  "name": "Person admin.ops",
                  "picture": "https://img.provider.test/admin.ops.png", "provider": "op"}
    first = browser.session

    # The person changes at the provider: new name, the admin role taken away.
    op.set_profile("admin.ops", name="Anna Ops", roles=["viewer"])
    again = op_signin(browser, gateway.url, "admin.ops")
    assert again.status_code == 303 and browser.session != first
    me2 = browser.me().json()
    assert (me2["username"], me2["name"], me2["role"]) == ("admin.ops", "Anna Ops", "user")
    viewer = Browser(gateway.url)
    assert op_signin(viewer, gateway.url, "viewer").status_code == 303
    assert viewer.me().json()["role"] == "user"  # "viewer" is not mapped: default_role
    users = json.loads(gateway.cli("users", "list", "--json").stdout)
    assert sorted(u["username"] for u in users) == ["admin.ops", "viewer"]

    out = browser.post(f"{gateway.url}/logout", headers={"Origin": gateway.url})
    end = urlsplit(out.headers["location"])
    assert f"{end.scheme}://{end.netloc}{end.path}" == f"{op.url}/session/end"
    assert "id_token_hint" not in parse_qs(end.query)
    confirm = browser.get(out.headers["location"])
    assert confirm.status_code == 200  # without id_token_hint the provider asks first
    back = browser.follow(submit_op_page(browser, confirm, ""), until=gateway.url)
    assert back.headers["location"].startswith(f"{gateway.url}/login")
    assert browser.me().status_code == 401 and browser.me(first).status_code == 401

    log = gateway.log_text()
    assert_no_secrets([log, *browser.gateway_locations(), *viewer.gateway_locations()],
                      [first, browser.session or "", viewer.session, op.client_secret])
    assert_no_jwt(log)
