"""What the demo prints once everything answers: where to go and how to sign in.

The lines are stable (``label  URL``) because people copy from them and tests parse them.
"""

from __future__ import annotations

from authgate.demo.admin import AdminStatus
from authgate.demo.workspace import DemoLayout


def banner(layout: DemoLayout, admin: AdminStatus) -> str:
    g, d, p = layout.gateway_url, layout.devidp_url, layout.panel_url
    if admin.password is not None:
        account = (f"  Admin account    {admin.username} / {admin.password}\n"
                   "                   (shown once; a later run prints \"admin exists\")")
    else:
        account = (f"  Admin account    admin exists: {admin.username} (new password: "
                   "authgate demo --reset-admin-password)")
    lifetime = int(layout.hh_lifetime)
    return "\n".join([
        "",
        f"authgate demo is running  (data in {layout.directory})",
        "",
        f"  Console          {g}/console",
        f"  Sign in          {g}/login",
        f"  Sample panel     {p}/",
        f"  Protected page   {p}/reports",
        f"  Identity provider {d}/  (ZITADEL (demo) at /oidc, HeadHunter (demo) at /hh)",
        "",
        account,
        "  Or sign in with \"ZITADEL (demo)\" as Alice (admin) or Bob (user).",
        f"  HeadHunter (demo) access tokens live {lifetime} s: connect an account under",
        "  Connections and watch the vault refresh it.",
        "",
        "  Config for other commands: authgate status --config "
        f"{layout.config_path}",
        "",
        "Press Ctrl+C to stop.",
        "",
    ])
