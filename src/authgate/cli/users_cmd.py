"""Sign-in commands: ``users ...``, ``audit`` and ``keys rotate``.

Passwords are never taken as command-line arguments (they would sit in the shell history and in
``ps``): they are typed at a hidden prompt, or piped with ``--password-stdin``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from authgate.cli.common import (
    EXIT_FAILURE,
    EXIT_USAGE,
    ConfigOption,
    command_group,
    console,
    failures_exit,
    labelled,
    open_runtime,
    out,
)
from authgate.private_files import write_private_file

if TYPE_CHECKING:
    from rich.table import Table

    from authgate.runtime import Runtime
    from authgate.signin.services import SigninServices

users_app = command_group(
    help="People who can sign in (local passwords and linked providers).", no_args_is_help=True)
keys_app = command_group(help="Encryption and signing keys.", no_args_is_help=True)

PasswordStdin = Annotated[bool, typer.Option(
    "--password-stdin", help="read the password from the first line of standard input")]
JsonFlag = Annotated[bool, typer.Option("--json", help="print JSON")]


def _open(config: Path | None) -> tuple[Runtime, SigninServices]:
    runtime = open_runtime(config)
    return runtime, runtime.signin


def _close(runtime: Runtime) -> None:
    import asyncio

    asyncio.run(runtime.aclose())


def _print_table(table: Table) -> None:
    # Piped into grep or a file, a table must not be cut to 80 columns.
    if not out.is_terminal:
        out.width = 200
    out.print(table)


def _read_password(from_stdin: bool) -> str:
    from authgate.signin.passwords import MIN_LENGTH
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    elif sys.stdin.isatty():
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    else:
        console.print(labelled("no terminal", "pipe the password with --password-stdin"))
        raise typer.Exit(EXIT_USAGE)
    if len(password) < MIN_LENGTH:
        console.print(labelled("too short", f"use at least {MIN_LENGTH} characters"))
        raise typer.Exit(EXIT_USAGE)
    return password


@users_app.command("list")
def users_list(config: ConfigOption = None, as_json: JsonFlag = False) -> None:
    """Every user: role, email, how they sign in, whether disabled."""
    runtime, svc = _open(config)
    users = svc.users.list_users()
    _close(runtime)
    if as_json:
        out.print_json(json.dumps([{
            "username": u.username, "role": u.role, "email": u.email, "name": u.name,
            "picture": u.picture, "disabled": u.disabled, "has_password": u.has_password,
            "identities": [f"{p}:{s}" for p, s in u.identities], "attributes": u.attributes,
            "created_at": u.created_at.isoformat()} for u in users]))
        return
    from rich.table import Table
    from rich.text import Text

    table = Table(title="Users")
    for column in ("username", "role", "email", "name", "sign-in", "status"):
        table.add_column(column)
    for u in users:
        methods = (["password"] if u.has_password else []) + [p for p, _ in u.identities]
        table.add_row(u.username, u.role, u.email or "", u.name or "", ", ".join(methods) or "—",
                      Text("disabled", "red") if u.disabled else "active")
    _print_table(table)


@users_app.command("add")
def users_add(
    username: str, config: ConfigOption = None,
    role: Annotated[str | None, typer.Option(help="default: login.default_role")] = None,
    email: Annotated[str | None, typer.Option()] = None,
    name: Annotated[str | None, typer.Option()] = None,
    no_password: Annotated[bool, typer.Option(
        "--no-password", help="no local password (signs in through a provider only)")] = False,
    password_stdin: PasswordStdin = False,
) -> None:
    """Create a local user (asks for the password)."""
    from authgate.signin.passwords import hash_password
    password_hash = None if no_password else hash_password(_read_password(password_stdin))
    runtime, svc = _open(config)
    with failures_exit():
        user = svc.users.add(username, role=role or runtime.settings.login.default_role,
                             email=email, name=name, password_hash=password_hash,
                             now=runtime.clock.now())
    _close(runtime)
    out.print(f"created user {user.username} (role {user.role})", highlight=False)


@users_app.command("set-password")
def users_set_password(username: str, config: ConfigOption = None,
                       password_stdin: PasswordStdin = False) -> None:
    """Set (or reset) a user's local password."""
    from authgate.signin.passwords import hash_password
    password_hash = hash_password(_read_password(password_stdin))
    runtime, svc = _open(config)
    with failures_exit():
        svc.users.set_password_hash(username, password_hash, runtime.clock.now())
    _close(runtime)
    out.print(f"password of {username} changed", highlight=False)


@users_app.command("set-role")
def users_set_role(username: str, role: str, config: ConfigOption = None) -> None:
    """Change a user's role; their current sessions end (the new role needs a new sign-in)."""
    runtime, svc = _open(config)
    with failures_exit():
        user = svc.users.set_role(username, role, runtime.clock.now())
    _close(runtime)
    out.print(f"{user.username} now has role {user.role}", highlight=False)


@users_app.command("disable")
def users_disable(username: str, config: ConfigOption = None) -> None:
    """Refuse every sign-in of the user and end their sessions now."""
    runtime, svc = _open(config)
    with failures_exit():
        svc.users.set_disabled(username, True, runtime.clock.now())
    _close(runtime)
    out.print(f"{username} is disabled and signed out everywhere", highlight=False)


@users_app.command("enable")
def users_enable(username: str, config: ConfigOption = None) -> None:
    """Allow a disabled user to sign in again."""
    runtime, svc = _open(config)
    with failures_exit():
        svc.users.set_disabled(username, False, runtime.clock.now())
    _close(runtime)
    out.print(f"{username} is enabled", highlight=False)


@users_app.command("import")
def users_import(file: Path, config: ConfigOption = None) -> None:
    """Import a seed users.json ({username: {username, password, role, ...}}); all or nothing."""
    from rich.text import Text

    from authgate.signin.seed_import import import_users

    try:
        seed: Any = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        console.print(labelled(f"cannot read {file}", exc))
        raise typer.Exit(EXIT_FAILURE) from None
    runtime, _svc = _open(config)
    with failures_exit():
        results = import_users(runtime.db, seed, default_role=runtime.settings.login.default_role,
                               now=runtime.clock.now(), outbox=runtime.outbox)
    _close(runtime)
    refused = 0
    for r in results:
        line = Text(f"{r.action} {r.username}: password {r.password}")
        if r.password.startswith("refused"):
            refused += 1
            line = Text.assemble((line.plain, "yellow"), " — set one with: authgate users "
                                 f"set-password {r.username}")
        out.print(line, soft_wrap=True)
        for note in r.notes:
            out.print(Text("  ").append_text(labelled("note", note, "yellow")), soft_wrap=True)
    out.print(f"imported {len(results)} users; {refused} without a usable password")


@users_app.command("export")
def users_export(config: ConfigOption = None, output: Annotated[Path | None, typer.Option(
        "--output", "-o", help="write to this file (0600) instead of standard output")] = None,
                 ) -> None:
    """Print the users in the seed format (password hashes included)."""
    from authgate.signin.seed_import import export_users
    runtime, _svc = _open(config)
    data = export_users(runtime.db)
    _close(runtime)
    text = json.dumps(data, indent=2, ensure_ascii=False)
    if output is None:
        print(text)
    else:
        write_private_file(output, text.encode())
        console.print(f"wrote {len(data)} users to {output}")


def audit(config: ConfigOption = None,
          limit: Annotated[int, typer.Option(help="how many events")] = 50,
          user: Annotated[str | None, typer.Option("--user", help="only this username")] = None,
          as_json: JsonFlag = False) -> None:
    """The sign-in log: time, user, provider, result and reason, IP, user agent."""
    runtime, svc = _open(config)
    events = svc.log.recent(limit=limit, username=user)
    _close(runtime)
    if as_json:
        out.print_json(json.dumps([{
            "at": e.at.isoformat(), "username": e.username, "provider": e.provider,
            "result": e.result, "reason": e.reason, "ip": e.ip, "user_agent": e.user_agent}
            for e in events]))
        return
    from rich.table import Table
    from rich.text import Text

    table = Table(title="Sign-ins (newest first)")
    for column in ("time", "user", "provider", "result", "reason", "ip", "user agent"):
        table.add_column(column)
    colours = {"success": "green", "failure": "red", "refused": "yellow"}
    for e in events:
        colour = colours.get(e.result, "white")
        table.add_row(e.at.isoformat(timespec="seconds"), e.username or "", e.provider,
                      Text(e.result, colour), e.reason or "", e.ip or "",
                      (e.user_agent or "")[:40])
    _print_table(table)


@keys_app.command("rotate")
def keys_rotate(config: ConfigOption = None) -> None:
    """New encryption key (everything re-encrypted) and a new session signing key.

    Sessions signed by the old key stay valid: its public half stays in the JWKS until they
    have expired.
    """
    runtime, svc = _open(config)
    with failures_exit():
        kid = runtime.keyring.rotate()
        tokens = runtime.vault.store.reencrypt_all()
        signing = svc.keys.reencrypt_all()
        id_tokens = svc.sessions.reencrypt_id_tokens()
        signing_kid = svc.keys.rotate(runtime.clock.now())
    _close(runtime)
    out.print(f"encryption key {kid} is current; re-encrypted {tokens} connections, "
              f"{signing} signing keys and {id_tokens} sessions' ID tokens; new session "
              f"signing key {signing_kid}", highlight=False)


@keys_app.command("master-key")
def keys_master_key() -> None:
    """Print a new master key, for [keyring] master_key (the same on every replica).

    Keep it out of the database's backups: it is what makes them unreadable to others.
    """
    from authgate.keyring import new_master_key

    out.print(new_master_key(), highlight=False)


def register(app: typer.Typer) -> None:
    app.add_typer(users_app, name="users")
    app.add_typer(keys_app, name="keys")
    app.command("audit")(audit)
