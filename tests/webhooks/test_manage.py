"""Managing endpoints at run time: the command line and the console page (over HTTP)."""

from __future__ import annotations

import json
import re
from collections import Counter

import httpx

from tests.harness import free_port, wait_until
from tests.webhooks.conftest import WebhookStack
from tests.webhooks.harness import ReceiverProcess


def test_cli_add_list_test_remove(webhook_stack: WebhookStack) -> None:
    ws, gateway = webhook_stack, webhook_stack.stack.gateway
    port = free_port()
    added = gateway.cli("webhooks", "add", f"http://127.0.0.1:{port}/hook",
                        "--events", "connection.needs_reauth,connection.refreshed")
    secret = added.stdout.strip().splitlines()[-1]
    assert secret.startswith("whsec_") and secret not in added.stderr
    endpoint_id = re.search(r"endpoint (ep_\w+)", added.stderr).group(1)  # type: ignore[union-attr]
    assert secret not in gateway.log_text()

    listing = gateway.cli("webhooks", "list", "--json").stdout
    assert secret not in listing
    sources = {e["id"]: (e["source"], e["events"]) for e in json.loads(listing)}
    assert sources[endpoint_id] == ("runtime", ["connection.needs_reauth",
                                                "connection.refreshed"])
    [config_id] = [i for i, (source, _) in sources.items() if source == "config"]
    assert "Webhook endpoints" in gateway.cli("webhooks", "list").stdout

    failed = gateway.cli("webhooks", "test", endpoint_id, check=False)
    assert failed.returncode == 1 and "no answer" in failed.stdout  # nobody listens yet
    receiver = ReceiverProcess(ws.tmp, secret, ws.stack.clock, port=port)
    try:
        receiver.start()
        ok = gateway.cli("webhooks", "test", endpoint_id)
        assert "HTTP 200" in ok.stdout
        [test] = receiver.delivered()
        assert test["payload"]["type"] == "webhook.test" and test["verified"]
    finally:
        receiver.stop()

    refused = gateway.cli("webhooks", "remove", config_id, check=False)
    assert refused.returncode == 1 and "config file" in refused.stderr
    gateway.cli("webhooks", "remove", endpoint_id)
    again = gateway.cli("webhooks", "remove", endpoint_id, check=False)
    assert again.returncode == 1 and "webhook_not_found" in again.stderr
    bad = gateway.cli("webhooks", "add", "ftp://example.com/", check=False)
    assert bad.returncode == 2
    unknown = gateway.cli("webhooks", "add", "https://example.com/", "--events", "user.eaten",
                          check=False)
    assert unknown.returncode == 2 and "user.eaten" in unknown.stderr


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, html
    return found.group(1)


def _admin(gateway_url: str) -> httpx.Client:
    client = httpx.Client(base_url=gateway_url, follow_redirects=False)
    token = csrf_of(client.get("/login").text)
    signed_in = client.post("/login", data={"username": "root", "password": "root passw0rd!",
                                            "csrf_token": token})
    assert signed_in.status_code == 303, signed_in.text
    return client


def test_console_page_adds_tests_removes_and_resends(webhook_stack: WebhookStack) -> None:
    ws, stack, receiver = webhook_stack, webhook_stack.stack, webhook_stack.receiver
    stack.gateway.cli("users", "add", "root", "--role", "admin", "--password-stdin",
                      input_text="root passw0rd!\n")
    stack.gateway.cli("users", "add", "ulla", "--role", "user", "--password-stdin",
                      input_text="ulla passw0rd!\n")
    [created] = receiver.wait_for(2, "user.created twice")[:1]
    admin = _admin(stack.gateway.url)

    page = admin.get("/console/webhooks")
    assert page.status_code == 200
    assert "config file (read-only)" in page.text
    assert "/remove" not in page.text  # the config file's endpoint cannot be removed here
    assert created["id"] in page.text and 'data-state="delivered"' in page.text
    token = csrf_of(page.text)
    assert admin.post("/console/webhooks", data={"url": "http://127.0.0.1:1/x"}).status_code \
        == 403  # no CSRF token
    bad = admin.post("/console/webhooks", data={"url": "javascript:alert(1)",
                                                "csrf_token": token})
    assert bad.status_code == 200 and 'data-testid="url-error"' in bad.text

    port = free_port()
    added = admin.post("/console/webhooks", data={
        "url": f"http://127.0.0.1:{port}/hook", "event.connection.deleted": "1",
        "csrf_token": token})
    secret = re.search(r'data-testid="new-secret">(whsec_[^<]+)<', added.text).group(1)  # type: ignore[union-attr]
    endpoint_id = re.search(r'<h2 id="new-secret-h">(ep_\w+)<', added.text).group(1)  # type: ignore[union-attr]
    shown_again = admin.get("/console/webhooks").text
    assert secret not in shown_again and endpoint_id in shown_again  # shown once
    second = ReceiverProcess(ws.tmp, secret, stack.clock, port=port)
    try:
        second.start()
        tested = admin.post(f"/console/webhooks/{endpoint_id}/test", data={"csrf_token": token})
        assert 'data-testid="test-result"' in tested.text and "HTTP 200" in tested.text
        assert [r["payload"]["type"] for r in second.delivered()] == ["webhook.test"]
    finally:
        second.stop()
    removed = admin.post(f"/console/webhooks/{endpoint_id}/remove", data={"csrf_token": token})
    assert removed.status_code == 303
    assert endpoint_id not in admin.get("/console/webhooks").text

    # Resend: the same message again, with the same webhook-id.
    resent = admin.post(f"/console/webhooks/deliveries/{created['id']}/resend",
                        data={"csrf_token": token})
    assert resent.status_code == 303 and "notice=webhook_resent" in resent.headers["location"]
    wait_until(lambda: Counter(r["id"] for r in receiver.delivered())[created["id"]] == 2,
               "the resent delivery")

    russian = admin.get("/console/webhooks", headers={"Accept-Language": "ru"})
    assert "Журнал доставки" in russian.text and "Отправить снова" in russian.text
    user = httpx.Client(base_url=stack.gateway.url)
    user_token = csrf_of(user.get("/login").text)
    user.post("/login", data={"username": "ulla", "password": "ulla passw0rd!",
                              "csrf_token": user_token})
    assert user.get("/console/webhooks").status_code == 403
    assert httpx.get(f"{stack.gateway.url}/console/webhooks").status_code in (302, 303)
