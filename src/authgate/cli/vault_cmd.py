"""Vault commands: token, status, refresh, connect, apikey, keys."""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Annotated

import typer

from authgate.cli.common import (
    EXIT_FAILURE,
    EXIT_USAGE,
    ConfigOption,
    command_group,
    console,
    failures_exit,
    labelled,
    load_and_remember,
    open_runtime,
    out,
    require_api_provider,
    runtime_for,
    settings_clock,
)
from authgate.cli.token_quick import owner_when_unnamed
from authgate.clock import SystemClock
from authgate.errors import InvalidRequest
from authgate.timefmt import COMPACT_ENGLISH, relative
from authgate.vault.export import EXPORT_OWNER

if TYPE_CHECKING:
    from datetime import datetime

    from authgate.apikeys import ApiKeyView

OwnerOption = Annotated[str, typer.Option("--owner", help="whose connection (bot-chosen id)")]
TokenOwnerOption = Annotated[str | None, typer.Option(
    "--owner", help=f"whose connection (default: {EXPORT_OWNER!r}, or the only one there is)",
    show_default=False)]


def default_owner(configured: str, owners: list[str], provider: str) -> str:
    """The owner ``token`` means without ``--owner``: ``vault.default_owner`` when configured;
    else "default" when it has a connection, else the only owner there is (``owners``: the
    provider's, the application's own left out); with several, a usage error that lists them."""
    if configured:
        return configured
    if EXPORT_OWNER in owners or not owners:
        return EXPORT_OWNER  # none at all: the vault's own "no connection" error says so
    if len(owners) == 1:
        return owners[0]
    console.print(labelled("usage", f"there are {len(owners)} {provider} connections; choose "
                                    f"one with --owner: {', '.join(owners)}"), soft_wrap=True)
    raise typer.Exit(EXIT_USAGE)


def _print_token(access_token: str, token_type: str, expires_at: datetime | None,
                 as_json: bool) -> None:
    if as_json:
        out.print_json(json.dumps({
            "access_token": access_token, "token_type": token_type,
            "expires_at": expires_at.isoformat() if expires_at else None}))
    else:
        print(access_token)


def token(provider: str, config: ConfigOption = None, owner: TokenOwnerOption = None,
          as_json: Annotated[bool, typer.Option("--json", help="the whole record")] = False,
          ) -> None:
    """Print a fresh access token (for $(authgate token hh))."""
    from authgate.config_stamp import quick_settings
    from authgate.private_files import private_umask
    from authgate.vault.stored_token import stored_token

    # The short way first: a token the vault would hand out as stored, read without the runtime.
    private_umask()
    settings = load_and_remember(config)
    clock = settings_clock(settings)
    configured = settings.vault.default_owner
    quick = stored_token(
        quick_settings(settings), provider, owner or configured,
        # Several owners and none of them "default": the full way says so (a usage error).
        owner_when_unnamed, (clock or SystemClock()).now)
    if quick is not None:
        _print_token(quick.access_token, quick.token_type, quick.expires_at, as_json)
        return
    import asyncio

    from authgate.vault.records import APPLICATION_OWNER

    runtime = runtime_for(settings, clock)
    require_api_provider(runtime, provider)
    with failures_exit():
        chosen = owner if owner is not None else default_owner(
            configured, [c.owner for c in runtime.vault.store.list_connections(provider)
                         if c.owner != APPLICATION_OWNER], provider)

    async def go() -> None:
        try:
            issued = await runtime.vault.token(provider, chosen)
        finally:
            await runtime.aclose()
        _print_token(issued.access_token, issued.token_type, issued.expires_at, as_json)

    with failures_exit():
        asyncio.run(go())


def status(config: ConfigOption = None,
           limit: Annotated[int, typer.Option(min=1, max=1000,
                                              help="connections shown at most")] = 100,
           after: Annotated[str | None, typer.Option(
               metavar="PROVIDER/OWNER", help="start after this connection (the next page)")
           ] = None,
           provider: Annotated[str | None, typer.Option(help="only this provider's")] = None,
           only_status: Annotated[str | None, typer.Option(
               "--status", help="only connections in this status (active, needs_reauth)")
           ] = None,
           owner: Annotated[str | None, typer.Option(
               help="only owners starting with this")] = None) -> None:
    """A table of connections: provider, owner, account, status, expiry, next refresh, error;
    a page at a time (--limit, then --after as printed)."""
    import asyncio

    from rich.table import Table
    from rich.text import Text

    start = None
    if after is not None:
        after_provider, sep, after_owner = after.partition("/")
        if not sep or not after_provider or not after_owner:
            console.print(labelled("usage", "--after is PROVIDER/OWNER, as printed"),
                          soft_wrap=True)
            raise typer.Exit(EXIT_USAGE)
        start = (after_provider, after_owner)
    runtime = open_runtime(config)
    rows = runtime.vault.store.page(limit=limit, after=start, provider=provider,
                                    status=only_status, owner_prefixes=(owner,) if owner else ())
    now = runtime.clock.now()
    table = Table(title="Connections")
    for column in ("provider", "owner", "account", "status", "expires", "next refresh",
                   "last error"):
        table.add_column(column)
    for c in rows:
        style = "green" if c.status == "active" else "red"
        table.add_row(c.provider, c.owner, c.account_name or c.account_id or "",
                      Text(c.status, style),
                      relative(c.expires_at, now, COMPACT_ENGLISH),
                      relative(c.next_refresh_at, now, COMPACT_ENGLISH), c.last_error or "")
    out.print(table)
    if len(rows) == limit:
        console.print(f"more: --after {rows[-1].provider}/{rows[-1].owner}", highlight=False,
                      soft_wrap=True)
    asyncio.run(runtime.aclose())


def refresh(config: ConfigOption = None,
            due: Annotated[bool, typer.Option(
                "--due", help="only connections whose refresh time has come")] = False) -> None:
    """Refresh connections once and exit: with --due, those that are due (for a systemd timer);
    without, every one whose provider allows it now (hh.ru: only expired tokens)."""
    import asyncio

    from authgate.vault.engine import refresh_all_allowed, refresh_due
    runtime = open_runtime(config)

    async def go() -> dict[str, int]:
        try:
            if due:
                return await refresh_due(runtime.vault)
            return await refresh_all_allowed(runtime.vault)
        finally:
            await runtime.aclose()

    with failures_exit():
        counts = asyncio.run(go())
    out.print(f"refreshed {counts['ok']}, will retry {counts['retry']}, "
              f"need re-authorization {counts['needs_reauth']}")


def connect(provider: str, config: ConfigOption = None, owner: OwnerOption = EXPORT_OWNER,
            wait: Annotated[int, typer.Option(help="seconds to wait for the connection")] = 1800,
            ) -> None:
    """Print a one-time connect link and wait until the connection exists."""
    import asyncio

    from authgate.vault.links import connect_url

    runtime = open_runtime(config)
    require_api_provider(runtime, provider)
    with failures_exit():
        before = runtime.vault.store.get(provider, owner)
        generation = before.generation if before else 0
        link = runtime.links.create(provider, owner, now=runtime.clock.now(),
                                    lifetime=runtime.settings.vault.connect_link_lifetime)
    out.print(f"Open this link to connect {provider} for {owner}:")
    out.print(connect_url(runtime.settings.public_url, link),
              soft_wrap=True, highlight=False)
    deadline = time.monotonic() + wait
    with console.status("waiting for the connection…"):
        while time.monotonic() < deadline:
            conn = runtime.vault.store.get(provider, owner)
            # Connecting stores new tokens, which always moves the generation on.
            if conn is not None and conn.status == "active" and conn.generation > generation:
                out.print(labelled("connected", conn.account_name or conn.account_id, "green"))
                asyncio.run(runtime.aclose())
                return
            time.sleep(1)
    console.print(labelled("timed out", "the link was not used in time"))
    raise typer.Exit(EXIT_FAILURE)


apikey_app = command_group(help="API keys for bots (stored hashed; shown once).",
                           no_args_is_help=True)


@apikey_app.command("create")
def apikey_create(name: Annotated[str, typer.Argument(help="what the key is for")] = "bot",
                  config: ConfigOption = None,
                  owner_prefix: Annotated[str | None, typer.Option(
                      "--owner-prefix", help="only owners starting with this, e.g. tg: "
                      "(other owners are as absent to the key)", show_default=False)] = None,
                  read_only: Annotated[bool, typer.Option(
                      "--read-only", help="may list connections and read tokens, nothing else")
                  ] = False) -> None:
    """Create a key; the key itself is the last line printed."""
    from authgate.apikeys import check_owner_prefix
    try:
        owner_prefix = check_owner_prefix(owner_prefix)
    except InvalidRequest as exc:
        raise typer.BadParameter(exc.detail, param_hint="--owner-prefix") from None
    runtime = open_runtime(config)
    key, view = runtime.apikeys.create(name, now=runtime.clock.now(),
                                       owner_prefix=owner_prefix, read_only=read_only)
    console.print(f"created API key #{view.id} ({view.name}, {scope_text(view)}); "
                  "it is shown only once:")
    print(key)


def scope_text(view: ApiKeyView) -> str:
    """What a key may do, in a few words: "all owners", "owners tg:*, read-only"."""
    owners = "all owners" if view.owner_prefix is None else f"owners {view.owner_prefix}*"
    return owners + (", read-only" if view.read_only else "")


@apikey_app.command("list")
def apikey_list(config: ConfigOption = None) -> None:
    from rich.table import Table

    runtime = open_runtime(config)
    table = Table(title="API keys")
    for column in ("id", "name", "prefix", "scope", "created", "last used", "revoked"):
        table.add_column(column)
    now = runtime.clock.now()
    for k in runtime.apikeys.list_keys():
        table.add_row(str(k.id), k.name, k.prefix + "…", scope_text(k),
                      k.created_at.isoformat(timespec="seconds"),
                      relative(k.last_used_at, now, COMPACT_ENGLISH, empty="never"),
                      k.revoked_at.isoformat(timespec="seconds") if k.revoked_at else "")
    out.print(table)


@apikey_app.command("revoke")
def apikey_revoke(key_id: int, config: ConfigOption = None) -> None:
    runtime = open_runtime(config)
    with failures_exit():
        runtime.apikeys.revoke(key_id, now=runtime.clock.now())
    out.print(f"revoked API key #{key_id}")
