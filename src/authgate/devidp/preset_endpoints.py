"""HTTP face of the preset look-alikes, one mount per mode at ``/presets/{mode}``:

* ``GET /authorize`` signs the demo person in at once (no page) and redirects back;
* ``POST /token`` (and ``POST /refresh_token`` in SuperJob's mode) by the mode's rules;
* ``GET /api/account`` (``POST`` with a form in VK ID's mode): the account, shaped like the
  provider's; ``ANY /api/echo/{path}``: an API call, answered with what arrived (for the proxy).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from authgate.devidp.common import is_loopback_http, with_query
from authgate.devidp.pages import error_page
from authgate.devidp.preset_modes import (
    ModeError,
    ModeGrant,
    ModeModel,
    PresetMode,
    account_json,
    token_answer,
)


class PresetEndpoints:
    def __init__(self, mode: PresetMode, model: ModeModel) -> None:
        self.mode = mode
        self.model = model

    def routes(self) -> list[Route]:
        return [
            Route("/authorize", self.authorize, methods=["GET"]),
            Route("/token", self.token, methods=["POST"]),
            Route("/refresh_token", self.refresh_token, methods=["POST"]),
            Route("/api/account", self.account, methods=["GET", "POST"]),
            Route("/api/echo/{rest:path}", self.echo,
                  methods=["GET", "POST", "PUT", "PATCH", "DELETE"]),
        ]

    # -- browser ------------------------------------------------------------------------------
    async def authorize(self, request: Request) -> Response:
        q = dict(request.query_params)
        if q.get("client_id") not in self.model.clients:
            return error_page(request, "Unknown application", "client_id is not registered.")
        target = q.get("redirect_uri", "")
        if not is_loopback_http(target):
            return error_page(request, "Bad redirect URI", "redirect_uri is not registered.")
        back = {"state": q["state"]} if "state" in q else {}
        problem = None
        if q.get("response_type") != "code":
            problem = "unsupported_response_type"
        elif self.mode.device_id and not q.get("state"):
            problem = "invalid_request"  # VK ID: state is required
        elif self.mode.pkce_required and (not q.get("code_challenge")
                                          or q.get("code_challenge_method", "").lower() != "s256"):
            self.model.stats["pkce_missing"] += 1
            problem = "invalid_request"
        if problem:
            return RedirectResponse(with_query(target, {"error": problem, **back}), 302)
        code, device_id = self.model.issue_code(q["client_id"], q)
        extra = {"device_id": device_id, "type": "code_v2"} if device_id else {}
        return RedirectResponse(with_query(target, {"code": code, **back, **extra}), 302)

    # -- token endpoint -----------------------------------------------------------------------
    async def token(self, request: Request) -> Response:
        form = {k: str(v) for k, v in (await request.form()).items()}
        grant_type = form.get("grant_type")
        try:
            if grant_type == "authorization_code":
                grant, with_refresh = self.model.exchange(form), True
            elif grant_type == "refresh_token" and not self.mode.refresh_apart:
                grant, with_refresh = self.model.refresh(form)
            else:
                raise ModeError("unsupported_grant_type", f"grant_type {grant_type!r}",
                                status=self.mode.error_status)
        except ModeError as err:
            return self._answer(request, {"error": err.error,
                                          "error_description": err.description}, err.status)
        return self._grant(request, grant, with_refresh, form)

    async def refresh_token(self, request: Request) -> Response:
        if not self.mode.refresh_apart:
            return JSONResponse({"error": "not_found"}, status_code=404)
        form = {k: str(v) for k, v in (await request.form()).items()}
        try:
            grant, with_refresh = self.model.refresh(form)
        except ModeError as err:
            return self._answer(request, {"error": err.error,
                                          "error_description": err.description}, err.status)
        return self._grant(request, grant, with_refresh, form)

    def _grant(self, request: Request, grant: ModeGrant, with_refresh: bool,
               form: dict[str, str]) -> Response:
        body = token_answer(grant, self.mode.access_lifetime, with_refresh=with_refresh,
                            state=form.get("state") if self.mode.device_id else None)
        return self._answer(request, body, 200)

    def _answer(self, request: Request, body: dict[str, Any], status: int) -> Response:
        headers = {"Cache-Control": "no-store"}
        if self.mode.json_only_on_accept and "application/json" not in request.headers.get(
                "accept", ""):
            # GitHub: without Accept: application/json the answer is form-encoded.
            self.model.stats["form_encoded_answers"] += 1
            return Response(urlencode({k: str(v) for k, v in body.items()}), status,
                            headers=headers, media_type="application/x-www-form-urlencoded")
        return JSONResponse(body, status, headers=headers)

    # -- the API ------------------------------------------------------------------------------
    async def account(self, request: Request) -> Response:
        if self.mode.account_post_form:
            form = await request.form() if request.method == "POST" else {}
            token = str(form.get("access_token", ""))
            refused = self._refused_app(request)
            if refused is not None:
                return refused
            grant = self.model.check_access(token) if token else None
            if grant is None:
                return JSONResponse({"error": "invalid_token"}, status_code=401)
            return JSONResponse(account_json(self.mode.name))
        checked = self._checked(request)
        if isinstance(checked, Response):
            return checked
        return JSONResponse(account_json(self.mode.name))

    async def echo(self, request: Request) -> Response:
        checked = self._checked(request)
        if isinstance(checked, Response):
            return checked
        return JSONResponse({"path": request.path_params["rest"], "method": request.method,
                             "query": request.url.query, "client_id": checked.client_id})

    def _checked(self, request: Request) -> ModeGrant | Response:
        refused = self._refused_app(request)
        if refused is not None:
            return refused
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme != self.mode.auth_scheme:
            self.model.stats["wrong_auth_scheme"] += 1
            return JSONResponse({"error": "unauthorized"}, status_code=401)
        grant = self.model.check_access(token.strip())
        if grant is None:
            return JSONResponse({"error": "invalid_token"}, status_code=401)
        return grant

    def _refused_app(self, request: Request) -> Response | None:
        if not self.mode.app_id_header:
            return None
        secrets = {c.client_secret for c in self.mode.clients}
        if request.headers.get("x-api-app-id") not in secrets:
            self.model.stats["app_id_missing"] += 1
            return JSONResponse({"error": {"code": 403, "message": "X-Api-App-Id is required"}},
                                status_code=403)
        return None
