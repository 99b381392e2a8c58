"""Test and demo controls under ``/_devidp/``: counters, revocation, faults, tampering, seeding.

JSON in, JSON out. Nothing here exists on a real provider; it lets tests and benchmarks drive the
providers into the states that are hard to reach by hand (revoked, deactivated, overloaded).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from authgate.devidp.hh_faults import Fault, HhFaults
from authgate.devidp.hh_model import ACTIVE, DEACTIVATED, REVOKED, HhModel
from authgate.devidp.oidc import OidcEndpoints
from authgate.devidp.oidc_tamper import TAMPER_MODES, USERINFO_MODES
from authgate.devidp.telegram_model import BotApiError, TelegramModel, parse_chat_id

Handler = Callable[[Request], Awaitable[Response]]
_MAX_SEED = 200_000


class BadControl(Exception):
    """A control request that makes no sense; answered 400 (404 when ``missing``)."""

    def __init__(self, detail: str, status: int = 400) -> None:
        super().__init__(detail)
        self.detail = detail
        self.status = status


async def _body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise BadControl("body is not JSON") from exc
    if not isinstance(data, dict):
        raise BadControl("body must be a JSON object")
    return data


def _number(data: dict[str, Any], key: str, default: float) -> float:
    value = data.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise BadControl(f"{key} must be a non-negative number")
    return float(value)


def _guarded(handler: Callable[[Request], Awaitable[Any]]) -> Handler:
    async def endpoint(request: Request) -> Response:
        try:
            result = await handler(request)
        except BadControl as err:
            return JSONResponse({"error": "invalid_request", "detail": err.detail}, err.status)
        return JSONResponse(result, headers={"Cache-Control": "no-store"})

    return endpoint


class HhControl:
    def __init__(self, model: HhModel, faults: HhFaults) -> None:
        self.model = model
        self.faults = faults

    def routes(self) -> list[Route]:
        post = [
            ("revoke", self.revoke),
            ("deactivate", self.deactivate),
            ("faults", self.set_faults),
            ("latency", self.latency),
            ("seed", self.seed),
            ("expire", self.expire),
            ("config", self.config),
            ("reset", self.reset),
        ]
        return [
            Route("/stats", _guarded(self.stats), methods=["GET"]),
            *(Route(f"/{name}", _guarded(fn), methods=["POST"]) for name, fn in post),
        ]

    async def stats(self, request: Request) -> dict[str, Any]:
        live = sum(1 for g in self.model.by_access.values() if g.status == ACTIVE)
        fault = self.faults.armed
        return {
            **self.model.stats,
            "accounts": len(self.model.accounts),
            "live_tokens": live,
            "latency_ms": self.faults.latency_ms,
            "fault": {"mode": fault.mode, "remaining": fault.remaining} if fault else None,
            "held": self.faults.holding,
        }

    def _account(self, data: dict[str, Any]) -> str:
        account_id = str(data.get("account_id", ""))
        if account_id not in self.model.accounts:
            raise BadControl(f"no account {account_id!r}", status=404)
        return account_id

    async def revoke(self, request: Request) -> dict[str, Any]:
        account_id = self._account(await _body(request))
        return {"account_id": account_id, "revoked": self.model.end_account(account_id, REVOKED)}

    async def deactivate(self, request: Request) -> dict[str, Any]:
        account_id = self._account(await _body(request))
        count = self.model.end_account(account_id, DEACTIVATED)
        return {"account_id": account_id, "deactivated": count}

    async def set_faults(self, request: Request) -> dict[str, Any]:
        data = await _body(request)
        mode = data.get("mode")
        count = int(_number(data, "count", 1))
        if mode is None or count == 0:
            self.faults.armed = None
            self.faults.release()
            return {"mode": None, "count": 0}
        status = data.get("status")
        fault = Fault(
            mode=str(mode),
            remaining=count,
            retry_after=int(_number(data, "retry_after", 1)),
            status=int(status) if isinstance(status, int) else None,
            after=int(_number(data, "after", 0)),
        )
        try:
            self.faults.arm(fault)
        except ValueError as exc:
            raise BadControl(str(exc)) from exc
        return {"mode": fault.mode, "count": count}

    async def latency(self, request: Request) -> dict[str, Any]:
        self.faults.latency_ms = _number(await _body(request), "ms", 0)
        return {"ms": self.faults.latency_ms}

    async def seed(self, request: Request) -> list[dict[str, Any]]:
        data = await _body(request)
        count = int(_number(data, "count", 1))
        if count > _MAX_SEED:
            raise BadControl(f"count is at most {_MAX_SEED}")
        lifetime = _number(data, "lifetime", 0) if "lifetime" in data else None
        grants = self.model.seed(count, bool(data.get("expired", False)), lifetime)
        now = self.model.now()
        return [
            {
                "account_id": g.account_id,
                "access_token": g.access_token,
                "refresh_token": g.refresh_token,
                # Seconds left from now (0 when already expired), and the absolute moment.
                "expires_in": max(0, int((g.expires_at or now) - now)),
                "expires_at": g.expires_at,
            }
            for g in grants
        ]

    async def expire(self, request: Request) -> dict[str, Any]:
        data = await _body(request)
        account_id = self._account(data) if "account_id" in data else None
        return {"expired": self.model.expire(account_id)}

    async def config(self, request: Request) -> dict[str, Any]:
        data = await _body(request)
        o = self.model.options
        for key in ("access_lifetime", "code_lifetime", "app_token_min_interval"):
            if key in data:
                setattr(o, key, _number(data, key, 0))
        if "hang_seconds" in data:  # how long "hang" and "spend_and_hold" keep a request
            o.hang_seconds = self.faults.hang_seconds = _number(data, "hang_seconds", 0)
        if "auto_approve_account" in data:
            value = data["auto_approve_account"]
            o.auto_approve_account = None if value is None else str(value)
        return {
            "access_lifetime": o.access_lifetime,
            "code_lifetime": o.code_lifetime,
            "app_token_min_interval": o.app_token_min_interval,
            "hang_seconds": o.hang_seconds,
            "auto_approve_account": o.auto_approve_account,
        }

    async def reset(self, request: Request) -> dict[str, Any]:
        self.model.reset()
        self.faults.clear()
        return {"ok": True}


class OidcControl:
    def __init__(self, endpoints: OidcEndpoints, save: Callable[[], None]) -> None:
        self.endpoints = endpoints
        self._save = save

    def routes(self) -> list[Route]:
        return [
            Route("/stats", _guarded(self.stats), methods=["GET"]),
            Route("/users", _guarded(self.list_users), methods=["GET"]),
            Route("/users", _guarded(self.upsert_user), methods=["POST"]),
            Route("/rotate-keys", _guarded(self.rotate), methods=["POST"]),
            Route("/tamper", _guarded(self.tamper), methods=["POST"]),
            Route("/reset", _guarded(self.reset), methods=["POST"]),
        ]

    async def stats(self, request: Request) -> dict[str, Any]:
        e = self.endpoints
        return {
            **e.model.stats,
            "kid": e.keys.kid,
            "jwks_kids": [str(k.kid) for k in e.keys.published()],
            "users": len(e.model.users),
            "tamper": {"id_token": e.tamper_id_token, "userinfo": e.tamper_userinfo},
        }

    async def list_users(self, request: Request) -> list[dict[str, Any]]:
        return [asdict(u) for u in self.endpoints.model.users.values()]

    async def upsert_user(self, request: Request) -> dict[str, Any]:
        try:
            user = self.endpoints.model.upsert_user(await _body(request))
        except (TypeError, ValueError) as exc:
            raise BadControl(str(exc)) from exc
        return asdict(user)

    async def rotate(self, request: Request) -> dict[str, Any]:
        keys = self.endpoints.keys
        keys.rotate(keep_old=bool((await _body(request)).get("keep_old", False)))
        self._save()
        return {"kid": keys.kid, "jwks_kids": [str(k.kid) for k in keys.published()]}

    async def tamper(self, request: Request) -> dict[str, Any]:
        mode = (await _body(request)).get("mode")
        e = self.endpoints
        if mode is None:
            e.tamper_id_token = e.tamper_userinfo = None
        elif mode in USERINFO_MODES:
            e.tamper_userinfo = str(mode)
        elif mode in TAMPER_MODES:
            e.tamper_id_token = str(mode)
        else:
            raise BadControl(f"unknown tamper mode {mode!r}; one of {', '.join(TAMPER_MODES)}")
        return {"mode": mode}

    async def reset(self, request: Request) -> dict[str, Any]:
        self.endpoints.model.reset()
        self.endpoints.tamper_id_token = self.endpoints.tamper_userinfo = None
        return {"ok": True}


class TelegramControl:
    """What the bot sent, and chats that refuse it: flood control (429 with ``retry_after``,
    counted on the devidp's clock) or a user who blocked the bot (403, until cleared)."""

    def __init__(self, model: TelegramModel) -> None:
        self.model = model

    def routes(self) -> list[Route]:
        return [
            Route("/stats", _guarded(self.stats), methods=["GET"]),
            Route("/messages", _guarded(self.messages), methods=["GET"]),
            Route("/chat", _guarded(self.chat), methods=["POST"]),
            Route("/reset", _guarded(self.reset), methods=["POST"]),
        ]

    async def stats(self, request: Request) -> dict[str, Any]:
        return {"sent": len(self.model.messages),
                "attempts": {str(k): v for k, v in self.model.attempts.items()},
                "refused": dict(self.model.refused)}

    async def messages(self, request: Request) -> list[dict[str, Any]]:
        chat = request.query_params.get("chat_id")
        messages = self.model.messages if chat is None else self.model.chat(_chat_id(chat))
        return [m.to_dict() for m in messages]

    async def chat(self, request: Request) -> dict[str, Any]:
        """``{"chat_id": 1, "mode": "flood", "retry_after": 30}``, ``"blocked"``, or null."""
        data = await _body(request)
        chat_id = _chat_id(data.get("chat_id"))
        mode = data.get("mode")
        if mode is None:
            self.model.clear(chat_id)
        elif mode == "flood":
            self.model.flood(chat_id, _number(data, "retry_after", 1))
        elif mode == "blocked":
            self.model.block(chat_id)
        else:
            raise BadControl(f"unknown mode {mode!r}; one of flood, blocked, null")
        return {"chat_id": chat_id, "mode": mode}

    async def reset(self, request: Request) -> dict[str, Any]:
        self.model.reset()
        return {"ok": True}


def _chat_id(value: object) -> int:
    try:
        return parse_chat_id(value)
    except BotApiError as err:
        raise BadControl(f"chat_id: {err.description}") from None
