"""``authgate webhooks add|list|remove|test``: endpoints added at run time.

Endpoints from the config file (``[[webhooks]]``) are listed too, marked "config"; they are
changed in the file, not here. A secret is printed once, when the endpoint is added.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from authgate.cli.common import (
    EXIT_FAILURE,
    ConfigOption,
    command_group,
    console,
    failures_exit,
    open_runtime,
    out,
)
from authgate.errors import InvalidRequest
from authgate.outbox.events import DEFAULT_EVENTS, OPT_IN

webhooks_app = command_group(
    help="Webhook endpoints (Standard Webhooks signatures; secrets shown once).",
    no_args_is_help=True)


@webhooks_app.command("add")
def webhooks_add(
    url: Annotated[str, typer.Argument(help="where to POST the events (http:// or https://)")],
    events: Annotated[str, typer.Option(
        "--events", help="comma-separated event types; default: "
        f"{','.join(DEFAULT_EVENTS)} ({', '.join(sorted(OPT_IN))} only when named)")] = "",
    secret_file: Annotated[Path | None, typer.Option(
        "--secret-file", help="a file holding the secret (whsec_<base64>); default: a new one",
        show_default=False)] = None,
    config: ConfigOption = None,
) -> None:
    """Add an endpoint; its secret is the last line printed (shown only once)."""
    secret = None
    if secret_file is not None:
        try:
            secret = secret_file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise typer.BadParameter(f"cannot read {secret_file}: {exc.strerror}",
                                     param_hint="--secret-file") from None
    runtime = open_runtime(config)
    try:
        endpoint, secret = runtime.webhooks.add(url, events=events.split(","),
                                                now=runtime.clock.now(), secret=secret)
    except InvalidRequest as exc:  # bad arguments: a usage error (exit 2)
        raise typer.BadParameter(exc.detail) from None
    console.print(f"added webhook endpoint {endpoint.id} "
                  f"({', '.join(endpoint.events) or 'default events'})")
    if secret_file is None:
        console.print("its signing secret is shown only once:")
        print(secret)
    else:
        print(endpoint.id)


@webhooks_app.command("list")
def webhooks_list(config: ConfigOption = None, as_json: Annotated[bool, typer.Option(
        "--json", help="print JSON")] = False) -> None:
    """Endpoints (from the config file: source "config"), with their messages by state."""
    runtime = open_runtime(config)
    counts = runtime.outbox.counts_by_destination("webhook")
    endpoints = runtime.webhooks.list_endpoints()
    states = ("delivered", "pending", "dead")
    if as_json:
        out.print_json(json.dumps([
            {"id": e.id, "url": e.url, "events": list(e.events), "source": e.source,
             "messages": {state: counts.get(e.id, {}).get(state, 0) for state in states}}
            for e in endpoints]))
        return
    from rich.table import Table

    table = Table(title="Webhook endpoints")
    for column in ("id", "url", "events", "source", *states):
        table.add_column(column)
    for e in endpoints:
        table.add_row(e.id, e.url, ", ".join(e.events) or "(default)", e.source,
                      *(str(counts.get(e.id, {}).get(state, 0)) for state in states))
    if not out.is_terminal:  # piped into grep or a file: not cut to 80 columns
        out.width = 200
    out.print(table)


@webhooks_app.command("remove")
def webhooks_remove(endpoint_id: str, config: ConfigOption = None) -> None:
    """Remove an endpoint added at run time; its undelivered messages die."""
    runtime = open_runtime(config)
    with failures_exit():
        runtime.webhooks.remove(endpoint_id)
    out.print(f"removed webhook endpoint {endpoint_id}")


@webhooks_app.command("test")
def webhooks_test(endpoint_id: str, config: ConfigOption = None) -> None:
    """POST a signed webhook.test event now and print the answer (exit 1 unless 2xx)."""
    import asyncio

    runtime = open_runtime(config)

    async def go() -> tuple[str, str, str]:
        try:
            message_id, result = await runtime.webhook_channel.send_test(endpoint_id)
        finally:
            await runtime.aclose()
        return message_id, result.kind, result.answer

    with failures_exit():
        message_id, kind, answer = asyncio.run(go())
    out.print(f"{message_id}: {answer}")
    if kind != "delivered":
        raise typer.Exit(EXIT_FAILURE)
