"""``authgate devidp``: the development identity provider as a process of its own."""

from __future__ import annotations

import time
from pathlib import Path

from authgate.devidp.app import run_devidp
from authgate.devidp.options import Clock, DevIdpOptions, HhOptions, OidcOptions


def devidp_options(*, base_url: str, gateway_url: str, access_lifetime: float,
                   state_file: str | None, clock: Clock | None = None) -> DevIdpOptions:
    """The devidp set up for a gateway at ``gateway_url`` (its callbacks are registered)."""
    gateway = gateway_url.rstrip("/")
    return DevIdpOptions(
        base_url=base_url,
        # hh.ru accepts sub-paths of a registered redirect URI: register the gateway's root.
        hh=HhOptions(redirect_uris=[f"{gateway}/"], access_lifetime=access_lifetime),
        oidc=OidcOptions(redirect_uris=[], post_logout_redirect_uris=[]),
        state_file=Path(state_file) if state_file else None,
        clock=clock or time.time,
    )


def run_from_cli(*, host: str, port: int, access_lifetime: float, state_file: str | None,
                 gateway_url: str, clock: Clock | None = None) -> None:
    options = devidp_options(base_url=f"http://{host}:{port}", gateway_url=gateway_url,
                             access_lifetime=access_lifetime, state_file=state_file, clock=clock)
    run_devidp(options, host=host, port=port)
