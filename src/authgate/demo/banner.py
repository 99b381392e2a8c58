"""What the demo prints once everything answers: where to go and how to sign in.

The lines are stable (``label  URL``) because people copy from them and tests parse them.
"""

from __future__ import annotations

import shlex
import shutil
import sys
from pathlib import Path

from authgate.demo.admin import AdminStatus
from authgate.demo.workspace import DemoLayout


def _label(text: str) -> str:
    """Labels in one column, wide enough for the longest ("Identity provider")."""
    return f"  {text:<19}"


def _short(path: Path) -> str:
    """``path`` relative to the working directory when it is below it (``.venv/bin/authgate``)."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def authgate_command() -> str:
    """How to run authgate from this shell: ``authgate`` when that is on PATH and is this very
    program, else the path of the script that runs now (``.venv/bin/authgate`` after
    ``./scripts/demo``), else this interpreter with ``-m authgate.cli``."""
    on_path = shutil.which("authgate")
    script = Path(sys.argv[0]).absolute()
    if script.name == "authgate" and script.is_file():
        if on_path and Path(on_path).resolve() == script.resolve():
            return "authgate"
        return shlex.quote(_short(script))
    if on_path:
        return "authgate"
    return f"{shlex.quote(_short(Path(sys.executable)))} -m authgate.cli"


def banner(layout: DemoLayout, admin: AdminStatus, command: str | None = None) -> str:
    g, d, p = layout.gateway_url, layout.devidp_url, layout.panel_url
    command = command or authgate_command()
    if admin.password is not None:
        account = (f"{_label('Admin account')}{admin.username} / {admin.password}\n"
                   f"{_label('')}(an initial password, shown once: change it in the console "
                   "under Password)")
    else:
        account = (f"{_label('Admin account')}admin exists: {admin.username} (new password: "
                   "authgate demo --reset-admin-password)")
    lifetime = int(layout.hh_lifetime)
    config = shlex.quote(_short(layout.config_path))
    return "\n".join([
        "",
        f"authgate demo is running  (data in {layout.directory})",
        "",
        f"{_label('Console')}{g}/console",
        f"{_label('Sign in')}{g}/login",
        f"{_label('Sample panel')}{p}/",
        f"{_label('Protected page')}{p}/reports",
        f"{_label('Identity provider')}{d}/  (ZITADEL (demo) at /oidc, HeadHunter (demo) at /hh)",
        f"{_label('Telegram chats')}{d}/telegram/chats  (what the demo bot sends)",
        "",
        account,
        "  Or sign in with \"ZITADEL (demo)\" as Alice (admin) or Bob (user).",
        f"  HeadHunter (demo) access tokens live {lifetime} s: connect an account under",
        "  Connections and watch the vault refresh it.",
        "  A bot's user sees its messages under Telegram chats: when a connection of an owner",
        "  tg:<chat_id> needs its owner again, a button to connect again comes there. Try:",
        f"    {command} connect hh --owner tg:12345 --config {config}   (sign in as Ivan)",
        f"    curl -X POST {d}/_devidp/hh/revoke -d '{{\"account_id\": \"10000001\"}}'",
        f"  and the message arrives with the next refresh (within {lifetime} s).",
        "",
        f"  Other commands:  {command} status --config {config}",
        "",
        "Press Ctrl+C to stop.",
        "",
    ])
