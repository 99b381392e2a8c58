"""HTTP face of the hh.ru look-alike: ``/oauth/authorize``, ``/token``, ``/me`` (mounted at /hh).

Paths mirror hh.ru (authorize on hh.ru, token and /me on api.hh.ru), so pointing a client at
``{base}/hh`` instead of the real hosts is the only change it needs.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from authgate.devidp.common import public_base, with_query
from authgate.devidp.hh_faults import SPENDING_MODES, HhFaults
from authgate.devidp.hh_model import HhError, HhGrant, HhModel
from authgate.devidp.options import HhOptions
from authgate.devidp.pages import error_page, render
from authgate.devidp.pending import PendingRequests
from authgate.devidp.redirects import hh_redirect_matches_any

log = logging.getLogger("authgate.devidp.hh")

# "Name/version (contact)", as hh.ru asks; trailing product tokens are tolerated.
_UA_RE = re.compile(r"^[^\s/()][^/()]*/[^\s()]+\s+\([^()]*[^\s()][^()]*\)")


def user_agent_problem(request: Request) -> str | None:
    """None when the request identifies itself properly; else hh.ru's ``value`` for the error."""
    # HH-User-Agent exists because browsers and some libraries overwrite User-Agent; it wins.
    ua = request.headers.get("hh-user-agent") or request.headers.get("user-agent")
    if not ua:
        return "unset"
    return None if _UA_RE.match(ua) else "blacklisted"


def bad_user_agent(value: str) -> JSONResponse:
    # Both shapes: hh.ru's ``errors`` list and a flat ``error`` for simple clients.
    return JSONResponse(
        {
            "error": "bad_user_agent",
            "error_description": "User-Agent must look like 'MyApp/1.0 (me@example.com)'",
            "errors": [{"type": "bad_user_agent", "value": value}],
        },
        status_code=400,
    )


def token_error(err: HhError) -> JSONResponse:
    return JSONResponse(
        {"error": err.error, "error_description": err.description}, status_code=err.status
    )


def oauth_error(err: HhError) -> JSONResponse:
    """The API's shape for a bad bearer token: 403 ``{"errors": [{"type": "oauth", ...}]}``."""
    return JSONResponse(
        {"errors": [{"type": "oauth", "value": err.description}]}, status_code=err.status
    )


def grant_json(grant: HhGrant, lifetime: float) -> dict[str, Any]:
    if grant.refresh_token is None:  # application token: hh.ru sends no expiry, it never ends
        return {"access_token": grant.access_token, "token_type": "bearer"}
    return {
        "access_token": grant.access_token,
        "token_type": "bearer",
        "refresh_token": grant.refresh_token,
        "expires_in": int(lifetime),
    }


class HhEndpoints:
    def __init__(self, options: HhOptions, model: HhModel, faults: HhFaults, base_url: str) -> None:
        self.options = options
        self.base_url = base_url
        self.model = model
        self.faults = faults
        self._pending = PendingRequests()
        self._in_flight = 0

    def routes(self) -> list[Route]:
        return [
            Route("/oauth/authorize", self.authorize, methods=["GET"]),
            Route("/oauth/authorize", self.decide, methods=["POST"]),
            Route("/token", self.token, methods=["POST"]),
            # The deprecated hh.ru/oauth/token still answers on hh.ru; so does ours.
            Route("/oauth/token", self.token, methods=["POST"]),
            Route("/oauth/token", self.invalidate, methods=["DELETE"]),
            Route("/me", self.me, methods=["GET"]),
        ]

    # -- browser: /oauth/authorize ----------------------------------------------------------------

    async def authorize(self, request: Request) -> Response:
        q = request.query_params
        if q.get("client_id") != self.options.client_id:
            return error_page(request, "Unknown application", "client_id is not registered.")
        given_uri = q.get("redirect_uri")
        if given_uri is None and not self.options.redirect_uris:
            return error_page(request, "No redirect URI", "The application has no redirect URI.")
        if given_uri is not None and not hh_redirect_matches_any(
            given_uri, self.options.redirect_uris
        ):
            return error_page(request, "Bad redirect URI", "bad redirect url")
        params = {k: v for k, v in q.items() if k in ("state", "code_challenge")}
        params["target"] = given_uri or self.options.redirect_uris[0]
        if given_uri is not None:
            params["redirect_uri"] = given_uri
        if q.get("response_type") != "code":
            return self._back(params, error="unsupported_response_type")
        if "code_challenge" in q and q.get("code_challenge_method") != "S256":
            return self._back(params, error="invalid_request")

        hint = q.get("login_hint")
        if hint in self.model.accounts:
            return self._approve(params, hint)
        auto = self.options.auto_approve_account
        # force_login=true asks for the account choice again, so it overrides auto-approval.
        if hint is None and auto in self.model.accounts and q.get("force_login") != "true":
            return self._approve(params, auto)
        notice = f"No account {hint!r}; choose one." if hint is not None else None
        return self._page(request, params, notice)

    async def decide(self, request: Request) -> Response:
        form = await request.form()
        params = self._pending.take(str(form.get("request_id", "")))
        if params is None:
            return error_page(request, "Sign-in expired", "Start again from the application.")
        if form.get("decision") == "deny":
            self.model.stats["denied"] += 1
            return self._back(params, error="access_denied")
        account = str(form.get("account", ""))
        if account not in self.model.accounts:
            return error_page(request, "Unknown account", "Choose one of the listed accounts.")
        return self._approve(params, account)

    def _page(self, request: Request, params: dict[str, str], notice: str | None) -> Response:
        request_id = self._pending.add(params)
        context = {
            "title": "Sign in to hh.ru (dev)",
            "client_id": self.options.client_id,
            "accounts": list(self.model.accounts.values())[:50],
            "request_id": request_id,
            "action": request.url.path,  # the same path, POSTed
            "notice": notice,
        }
        return render(request, "hh_authorize.html", context)

    def _approve(self, params: dict[str, str], account_id: str) -> Response:
        code = self.model.issue_code(
            account_id, params.get("redirect_uri"), params.get("code_challenge")
        )
        log.info("hh: issued an authorization code for account %s", account_id)
        return self._back(params, code=code)

    @staticmethod
    def _back(params: dict[str, str], **extra: str) -> Response:
        query = dict(extra)
        if "state" in params:
            query["state"] = params["state"]
        return RedirectResponse(with_query(params["target"], query), status_code=302)

    # -- server to server: /token --------------------------------------------------------------

    async def token(self, request: Request) -> Response:
        stats = self.model.stats
        stats["requests_total"] += 1
        stats["token_requests"] += 1
        self._in_flight += 1
        stats["in_flight_max"] = max(stats["in_flight_max"], self._in_flight)
        try:
            await self.faults.delay()
            fault = self.faults.take()
            if fault is not None and fault.mode not in SPENDING_MODES:
                stats["faults_injected"] += 1
                return await self.faults.respond(fault)
            problem = user_agent_problem(request)
            if problem is not None:
                stats["bad_user_agent"] += 1
                return bad_user_agent(problem)
            form = await request.form()
            fields = {k: str(v) for k, v in form.items()}
            try:
                answer = self._grant(fields)
            except HhError as err:
                log.info("hh: token request refused: %s / %s", err.error, err.description)
                return token_error(err)
            if fault is not None and fault.mode == "hold":  # spent now, answered late
                stats["faults_injected"] += 1
                await self.faults.hold()
            elif fault is not None:  # the grant is spent and the client never learns
                stats["faults_injected"] += 1
                return await self.faults.respond(fault)
            return JSONResponse(answer, headers={"Cache-Control": "no-store"})
        finally:
            self._in_flight -= 1

    def _grant(self, f: dict[str, str]) -> dict[str, Any]:
        grant_type = f.get("grant_type")
        lifetime = self.options.access_lifetime
        if grant_type == "authorization_code":
            self.model.check_client(f.get("client_id"), f.get("client_secret"))
            grant = self.model.exchange_code(
                f.get("code"), f.get("redirect_uri"), f.get("code_verifier")
            )
            log.info("hh: exchanged a code for account %s", grant.account_id)
        elif grant_type == "refresh_token":
            # hh.ru documents refresh with the refresh token alone; sent credentials must match.
            if "client_id" in f or "client_secret" in f:
                self.model.check_client(f.get("client_id"), f.get("client_secret"))
            grant = self.model.refresh(f.get("refresh_token"))
            log.info("hh: refreshed the tokens of account %s", grant.account_id)
        elif grant_type == "client_credentials":
            self.model.check_client(f.get("client_id"), f.get("client_secret"))
            grant = self.model.app_token()
            log.info("hh: issued an application token")
        else:
            raise HhError("unsupported_grant_type", "unsupported grant_type")
        return grant_json(grant, lifetime)

    # -- API: /me and token invalidation -------------------------------------------------------

    def _bearer(self, request: Request) -> str:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise HhError("oauth", "bad_authorization", status=403)
        return token.strip()

    async def me(self, request: Request) -> Response:
        self.model.stats["requests_total"] += 1
        self.model.stats["me_requests"] += 1
        await self.faults.delay()
        problem = user_agent_problem(request)
        if problem is not None:
            self.model.stats["bad_user_agent"] += 1
            return bad_user_agent(problem)
        try:
            grant = self.model.check_access(self._bearer(request))
        except HhError as err:
            return oauth_error(err)
        if grant.account_id is None:
            flags = {"is_admin": False, "is_applicant": False, "is_employer": False}
            return JSONResponse({**flags, "is_application": True})
        account = self.model.accounts[grant.account_id]
        api = public_base(self.base_url, request) + "/hh"
        return JSONResponse(
            {
                "id": account.id,
                "first_name": account.first_name,
                "last_name": account.last_name,
                "middle_name": account.middle_name,
                "email": account.email,
                "is_admin": False,
                "is_applicant": account.is_applicant,
                "is_employer": account.is_employer,
                "is_application": False,
                "employer": None,
                "manager": None,
                "personal_manager": None,
                "is_in_search": True if account.is_applicant else None,
                "counters": {"unread_negotiations": 0, "new_resume_views": 0},
                "resumes_url": f"{api}/resumes/mine",
                "negotiations_url": f"{api}/negotiations",
            }
        )

    async def invalidate(self, request: Request) -> Response:
        problem = user_agent_problem(request)
        if problem is not None:
            return bad_user_agent(problem)
        try:
            self.model.invalidate(self._bearer(request))
        except HhError as err:
            return oauth_error(err)
        return Response(status_code=204)
