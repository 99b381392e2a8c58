"""Assembling the development identity provider: one Starlette app, one port: an OpenID
issuer, an hh.ru look-alike, and the preset look-alikes (``preset_modes``)."""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route

from authgate.access_log import AccessLog
from authgate.devidp.common import public_base
from authgate.devidp.control import HhControl, OidcControl, TelegramControl
from authgate.devidp.hh import HhEndpoints
from authgate.devidp.hh_faults import HhFaults
from authgate.devidp.hh_model import HhModel
from authgate.devidp.oidc import OidcEndpoints
from authgate.devidp.oidc_keys import KeyRing
from authgate.devidp.oidc_model import OidcModel
from authgate.devidp.options import DevIdpOptions
from authgate.devidp.preset_endpoints import PresetEndpoints
from authgate.devidp.preset_modes import MODES, ModeModel
from authgate.devidp.state import StateFile
from authgate.devidp.telegram import TelegramEndpoints
from authgate.devidp.telegram_model import TelegramModel

log = logging.getLogger("authgate.devidp")


@dataclass
class DevIdpHandles:
    """The live parts, on ``app.state.devidp``, for in-process inspection."""

    hh: HhModel
    hh_faults: HhFaults
    oidc: OidcModel
    oidc_endpoints: OidcEndpoints
    keys: KeyRing
    presets: dict[str, ModeModel]  # the preset look-alikes (kept in memory only)
    telegram: TelegramModel


class _Persistence:
    """Writes the whole state after each change, when a state file is configured."""

    def __init__(self, store: StateFile | None) -> None:
        self.store = store
        self.parts: dict[str, Callable[[], dict[str, Any]]] = {}

    def changed(self) -> None:
        # Parts are registered only after loading, so loading itself never writes.
        if self.store is not None and self.parts:
            self.store.save({name: part() for name, part in self.parts.items()})


def create_devidp_app(options: DevIdpOptions) -> Starlette:
    store = StateFile(options.state_file) if options.state_file else None
    persist = _Persistence(store)
    hh_model = HhModel(options.hh, options.clock, persist.changed)
    oidc_model = OidcModel(options.oidc, options.clock, persist.changed)
    saved = store.load() if store else None
    if saved is not None:
        hh_model.load_dict(saved.get("hh", {}))
        oidc_model.load_dict(saved.get("oidc", {}))
    keys = (KeyRing.from_dict(saved["oidc_keys"]) if saved is not None and "oidc_keys" in saved
            else KeyRing())
    keys.on_new_key = persist.changed  # a signing key made on first use is kept at once
    persist.parts = {"hh": hh_model.to_dict, "oidc": oidc_model.to_dict, "oidc_keys": keys.to_dict}
    if saved is None:
        persist.changed()  # a state file from the start, even if nothing else happens

    # Messages live in memory only: a restarted look-alike is a fresh chat history.
    telegram_model = TelegramModel(options.clock)
    faults = HhFaults(options.hh.hang_seconds)
    hh = HhEndpoints(options.hh, hh_model, faults, options.base_url)
    oidc = OidcEndpoints(
        options.oidc, oidc_model, keys, options.clock, options.base_url, persist.changed
    )

    presets = {name: ModeModel(mode, options.clock) for name, mode in MODES.items()}

    async def preset_control(request: Request) -> Response:
        model = presets.get(request.path_params["mode"])
        if model is None:
            return JSONResponse({"error": "not_found"}, status_code=404)
        if request.method == "POST":  # the person revoked the app at the provider
            return JSONResponse({"revoked": model.revoke_all()})
        return JSONResponse(dict(model.stats))

    async def index(request: Request) -> Response:
        base = public_base(options.base_url, request)
        return JSONResponse(
            {
                "hh": {
                    "authorize_url": f"{base}/hh/oauth/authorize",
                    "token_url": f"{base}/hh/token",
                    "api_base": f"{base}/hh",
                    "client_id": options.hh.client_id,
                },
                "oidc": {"issuer": f"{base}/oidc", "client_id": options.oidc.client_id},
                "presets": {name: f"{base}/presets/{name}" for name in presets},
                # The bot token is public here: it is a look-alike's, on loopback.
                "telegram": {"api_base": f"{base}/telegram",
                             "bot_token": options.telegram.bot_token,
                             "chats": f"{base}/telegram/chats"},
                "control": [f"{base}/_devidp/hh/stats", f"{base}/_devidp/oidc/stats",
                            f"{base}/_devidp/telegram/stats",
                            *(f"{base}/_devidp/presets/{name}/stats" for name in presets)],
            }
        )

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    app = Starlette(
        routes=[
            Route("/", index, methods=["GET"]),
            Route("/healthz", healthz, methods=["GET"]),
            Mount("/hh", routes=hh.routes()),
            Mount("/oidc", routes=oidc.routes()),
            Mount("/telegram", routes=TelegramEndpoints(options.telegram, telegram_model).routes()),
            Mount("/_devidp/hh", routes=HhControl(hh_model, faults).routes()),
            Mount("/_devidp/oidc", routes=OidcControl(oidc, persist.changed).routes()),
            Route("/_devidp/presets/{mode}/stats", preset_control, methods=["GET"]),
            Route("/_devidp/presets/{mode}/revoke", preset_control, methods=["POST"]),
            *(Mount(f"/presets/{name}", routes=PresetEndpoints(MODES[name], model).routes())
              for name, model in presets.items()),
            Mount("/_devidp/telegram", routes=TelegramControl(telegram_model).routes()),
        ]
    )
    app.state.devidp = DevIdpHandles(hh_model, faults, oidc_model, oidc, keys, presets,
                                     telegram_model)
    # The gateway's access log: paths only, since query strings carry codes and id_token_hint.
    app.add_middleware(AccessLog, logger="authgate.devidp.access")
    return app


def run_devidp(options: DevIdpOptions, host: str = "127.0.0.1", port: int = 8800) -> None:
    """Serve the devidp with uvicorn until interrupted."""
    import uvicorn  # only needed when actually serving

    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost"
    if not loopback:
        log.warning("devidp listens on %s: its control API lets anyone mint tokens", host)
    # uvicorn's own access log prints query strings (id_token_hint ...); ours does not.
    uvicorn.run(create_devidp_app(options), host=host, port=port, access_log=False)
