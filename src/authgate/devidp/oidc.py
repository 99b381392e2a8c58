"""HTTP face of the OIDC provider (mounted at /oidc; the issuer is ``{base}/oidc``).

Discovery, JWKS, authorize (sign-in page), token, userinfo and end-session, shaped like ZITADEL's:
PKCE S256 is mandatory, ``iss`` comes back on the authorization response (RFC 9207), ID tokens
carry ``aud = [client_id, project_id]`` with ``azp`` and the project role claims.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote_plus

from joserfc import jwt
from joserfc.errors import JoseError
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from authgate.devidp.common import is_loopback_http, public_base, with_query
from authgate.devidp.oidc_keys import KeyRing
from authgate.devidp.oidc_model import ROLES_CLAIM, ROLES_SCOPE, OidcError, OidcModel
from authgate.devidp.oidc_tamper import sign_id_token
from authgate.devidp.options import Clock, OidcOptions, OidcUser
from authgate.devidp.pages import error_page, render
from authgate.devidp.pending import PendingRequests
from authgate.devidp.redirects import oidc_redirect_allowed

log = logging.getLogger("authgate.devidp.oidc")

_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def at_hash(access_token: str) -> str:
    """OIDC Core 3.1.3.6: left half of SHA-256 of the access token, base64url, for RS256."""
    digest = hashlib.sha256(access_token.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest[:16]).rstrip(b"=").decode("ascii")


class OidcEndpoints:
    def __init__(
        self,
        options: OidcOptions,
        model: OidcModel,
        keys: KeyRing,
        clock: Clock,
        base_url: str,
        save: Callable[[], None],
    ) -> None:
        self.options = options
        self.model = model
        self.keys = keys
        self._clock = clock
        self.base_url = base_url
        self._save = save
        self._pending = PendingRequests()
        # Armed by the control API; each is used by the next ID token / userinfo answer.
        self.tamper_id_token: str | None = None
        self.tamper_userinfo: str | None = None

    def routes(self) -> list[Route]:
        return [
            Route("/.well-known/openid-configuration", self.discovery, methods=["GET"]),
            Route("/jwks", self.jwks, methods=["GET"]),
            Route("/authorize", self.authorize, methods=["GET"]),
            Route("/authorize", self.decide, methods=["POST"]),
            Route("/token", self.token, methods=["POST"]),
            Route("/userinfo", self.userinfo, methods=["GET", "POST"]),
            Route("/end_session", self.end_session, methods=["GET", "POST"]),
        ]

    def issuer(self, request: Request) -> str:
        return public_base(self.base_url, request) + "/oidc"

    # -- metadata ------------------------------------------------------------------------------

    async def discovery(self, request: Request) -> Response:
        self.model.stats["discovery_fetched"] += 1
        iss = self.issuer(request)
        project_roles = f"urn:zitadel:iam:org:project:{self.options.project_id}:roles"
        return JSONResponse(
            {
                "issuer": iss,
                "authorization_endpoint": f"{iss}/authorize",
                "token_endpoint": f"{iss}/token",
                "userinfo_endpoint": f"{iss}/userinfo",
                "jwks_uri": f"{iss}/jwks",
                "end_session_endpoint": f"{iss}/end_session",
                "scopes_supported": ["openid", "profile", "email", "offline_access", ROLES_SCOPE],
                "response_types_supported": ["code"],
                "response_modes_supported": ["query"],
                "grant_types_supported": ["authorization_code", "refresh_token"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "token_endpoint_auth_methods_supported": [
                    "client_secret_basic",
                    "client_secret_post",
                ],
                "code_challenge_methods_supported": ["S256"],
                "claims_supported": [
                    "iss",
                    "sub",
                    "aud",
                    "azp",
                    "exp",
                    "iat",
                    "auth_time",
                    "nonce",
                    "amr",
                    "at_hash",
                    "name",
                    "given_name",
                    "family_name",
                    "preferred_username",
                    "picture",
                    "locale",
                    "email",
                    "email_verified",
                    ROLES_CLAIM,
                    project_roles,
                ],
                "authorization_response_iss_parameter_supported": True,
                "request_parameter_supported": False,
                "claims_parameter_supported": False,
                "ui_locales_supported": ["en", "ru"],
            }
        )

    async def jwks(self, request: Request) -> Response:
        self.model.stats["jwks_fetched"] += 1
        return JSONResponse(self.keys.jwks(), headers={"Cache-Control": "max-age=60"})

    # -- browser: /authorize -------------------------------------------------------------------

    async def authorize(self, request: Request) -> Response:
        q = request.query_params
        if q.get("client_id") != self.options.client_id:
            return error_page(request, "Unknown client", "client_id is not registered here.")
        redirect_uri = q.get("redirect_uri", "")
        if not oidc_redirect_allowed(
            redirect_uri, self.options.redirect_uris, self.options.allow_any_loopback_redirect
        ):
            return error_page(request, "Bad redirect URI", "redirect_uri is not registered.")
        # From here on errors go back to the client (RFC 6749 4.1.2.1), with iss (RFC 9207).
        params = {"redirect_uri": redirect_uri, "iss": self.issuer(request)}
        for name in ("state", "nonce", "code_challenge"):
            if name in q:
                params[name] = q[name]
        params["scope"] = q.get("scope", "")
        if q.get("response_type") != "code":
            return self._back(params, error="unsupported_response_type")
        if "openid" not in params["scope"].split():
            return self._back(params, error="invalid_scope", error_description="openid required")
        if not q.get("code_challenge"):
            return self._back(
                params, error="invalid_request", error_description="code_challenge required (PKCE)"
            )
        if q.get("code_challenge_method") != "S256":
            return self._back(
                params,
                error="invalid_request",
                error_description="code_challenge_method must be S256",
            )

        prompt = q.get("prompt", "").split()
        user = self.model.find_user(q.get("login_hint"))
        if user is None and not ({"login", "select_account"} & set(prompt)):
            user = self.model.find_user(self.options.auto_approve_user)
        if user is not None:
            return self._approve(params, user)
        if "none" in prompt:
            return self._back(params, error="login_required")
        notice = "Unknown login_hint; choose a user." if q.get("login_hint") else None
        return self._page(request, params, notice)

    async def decide(self, request: Request) -> Response:
        form = await request.form()
        params = self._pending.take(str(form.get("request_id", "")))
        if params is None:
            return error_page(request, "Sign-in expired", "Start again from the application.")
        if form.get("decision") == "deny":
            self.model.stats["denied"] += 1
            return self._back(params, error="access_denied")
        user = self.model.find_user(str(form.get("user", "")))
        if user is None:
            return error_page(request, "Unknown user", "Choose one of the listed users.")
        return self._approve(params, user)

    def _page(self, request: Request, params: dict[str, str], notice: str | None) -> Response:
        request_id = self._pending.add(params)
        context = {
            "title": "Sign in (dev OpenID provider)",
            "client_id": self.options.client_id,
            "scope": params["scope"],
            "users": list(self.model.users.values()),
            "request_id": request_id,
            "action": request.url.path,
            "notice": notice,
        }
        return render(request, "oidc_authorize.html", context)

    def _approve(self, params: dict[str, str], user: OidcUser) -> Response:
        code = self.model.issue_code(
            user,
            params["redirect_uri"],
            params["code_challenge"],
            params.get("nonce"),
            params["scope"].split(),
        )
        log.info("oidc: issued an authorization code for %s", user.sub)
        return self._back(params, code=code)

    @staticmethod
    def _back(params: dict[str, str], **extra: str) -> Response:
        query = dict(extra)
        if "state" in params:
            query["state"] = params["state"]
        query["iss"] = params["iss"]
        return RedirectResponse(with_query(params["redirect_uri"], query), status_code=302)

    # -- server to server: /token --------------------------------------------------------------

    def _authenticate(self, request: Request, form: FormData) -> str:
        """client_secret_basic or client_secret_post (never both); returns the client_id."""
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "basic":
            if "client_secret" in form:
                raise OidcError("invalid_request", "use one client authentication method")
            try:
                raw = base64.b64decode(value.strip(), validate=True).decode("utf-8")
            except ValueError as exc:
                raise OidcError("invalid_client", "malformed Basic credentials", 401) from exc
            # RFC 6749 2.3.1: both halves are form-urlencoded before base64.
            cid, _, secret = raw.partition(":")
            client_id, client_secret = unquote_plus(cid), unquote_plus(secret)
            if form.get("client_id", client_id) != client_id:
                raise OidcError("invalid_request", "client_id differs from the Basic credentials")
        else:
            client_id = str(form.get("client_id", ""))
            client_secret = str(form.get("client_secret", ""))
        good = client_id == self.options.client_id and hmac.compare_digest(
            client_secret.encode(), self.options.client_secret.encode()
        )
        if not good:
            raise OidcError("invalid_client", "client authentication failed", 401)
        return client_id

    async def token(self, request: Request) -> Response:
        form = await request.form()
        try:
            client_id = self._authenticate(request, form)
            body = self._grant(request, client_id, form)
        except OidcError as err:
            self.model.stats["token_errors"] += 1
            log.info("oidc: token request refused: %s", err.error)
            headers = dict(_NO_STORE)
            if err.status == 401:
                headers["WWW-Authenticate"] = 'Basic realm="devidp"'
            payload = {"error": err.error, "error_description": err.description}
            return JSONResponse(payload, status_code=err.status, headers=headers)
        return JSONResponse(body, headers=_NO_STORE)

    def _grant(self, request: Request, client_id: str, form: FormData) -> dict[str, Any]:
        grant_type = form.get("grant_type")
        nonce: str | None = None
        code_entry = None
        if grant_type == "authorization_code":
            code_entry = self.model.redeem_code(
                _str(form.get("code")),
                client_id,
                _str(form.get("redirect_uri")),
                _str(form.get("code_verifier")),
            )
            sub, scopes, auth_time = code_entry.sub, code_entry.scopes, code_entry.auth_time
            nonce = code_entry.nonce
        elif grant_type == "refresh_token":
            grant = self.model.use_refresh(
                _str(form.get("refresh_token")), client_id, _str(form.get("scope"))
            )
            sub, scopes, auth_time = grant.sub, grant.scopes, grant.auth_time
        else:
            raise OidcError("unsupported_grant_type", "authorization_code or refresh_token")
        user = self.model.users.get(sub)
        if user is None:
            raise OidcError("invalid_grant", "user no longer exists")
        access = self.model.issue_access(sub, client_id, scopes, auth_time)
        if code_entry is not None:
            code_entry.issued_access.append(access)
        body: dict[str, Any] = {
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": int(self.options.access_lifetime),
            "scope": " ".join(scopes),
            "id_token": self._id_token(request, user, client_id, scopes, nonce, auth_time, access),
        }
        if "offline_access" in scopes:
            body["refresh_token"] = self.model.issue_refresh(sub, client_id, scopes, auth_time)
        log.info("oidc: issued tokens for %s", sub)
        return body

    def _id_token(
        self,
        request: Request,
        user: OidcUser,
        client_id: str,
        scopes: list[str],
        nonce: str | None,
        auth_time: int,
        access_token: str,
    ) -> str:
        now = int(self._clock())
        claims: dict[str, Any] = {
            "iss": self.issuer(request),
            "sub": user.sub,
            "aud": [client_id, self.options.project_id],
            "azp": client_id,
            "iat": now,
            "exp": now + int(self.options.id_token_lifetime),
            "auth_time": auth_time,
            "amr": ["pwd"],
            "at_hash": at_hash(access_token),
            **self.model.user_claims(user, scopes),
        }
        if nonce is not None:
            claims["nonce"] = nonce
        mode, self.tamper_id_token = self.tamper_id_token, None
        if mode is not None:
            self.model.stats["tampered"] += 1
            log.info("oidc: issuing a deliberately defective ID token (%s)", mode)
        token = sign_id_token(self.keys, claims, mode)
        if mode == "unknown_kid_rotated":
            self._save()  # the rotation replaced the signing key
        self.model.stats["id_tokens_issued"] += 1
        return token

    # -- API: /userinfo ------------------------------------------------------------------------

    async def userinfo(self, request: Request) -> Response:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" and request.method == "POST":
            token = _str((await request.form()).get("access_token")) or ""  # RFC 6750 2.2
        try:
            grant = self.model.check_access(token.strip())
            if "openid" not in grant.scopes:
                raise OidcError("insufficient_scope", "the openid scope was not granted", 403)
        except OidcError as err:
            self.model.stats["userinfo_errors"] += 1
            challenge = f'Bearer error="{err.error}", error_description="{err.description}"'
            return JSONResponse(
                {"error": err.error, "error_description": err.description},
                status_code=err.status,
                headers={"WWW-Authenticate": challenge},
            )
        user = self.model.users[grant.sub]
        body = {"sub": user.sub, **self.model.user_claims(user, grant.scopes)}
        if self.tamper_userinfo == "userinfo_sub_mismatch":
            self.tamper_userinfo = None
            self.model.stats["tampered"] += 1
            body["sub"] = next((s for s in self.model.users if s != user.sub), user.sub + "0")
        self.model.stats["userinfo_ok"] += 1
        return JSONResponse(body, headers=_NO_STORE)

    # -- browser: /end_session -----------------------------------------------------------------

    async def end_session(self, request: Request) -> Response:
        self.model.stats["end_session"] += 1
        p: dict[str, str] = dict(request.query_params)
        if request.method == "POST":
            p.update({k: str(v) for k, v in (await request.form()).items()})
        client = p.get("client_id")
        hint = p.get("id_token_hint")
        if hint:
            hinted = self._hinted_client(hint)
            if hinted is None:
                return error_page(request, "Sign-out refused", "id_token_hint was not issued here.")
            if client is not None and client != hinted:
                return error_page(request, "Sign-out refused", "client_id does not match the hint.")
            client = hinted
        target = p.get("post_logout_redirect_uri")
        if target:
            if client != self.options.client_id or not self._logout_target_ok(target):
                return error_page(
                    request, "Bad sign-out redirect", "post_logout_redirect_uri is not registered."
                )
            query = {"state": p["state"]} if "state" in p else {}
            return RedirectResponse(with_query(target, query), status_code=302)
        return render(request, "signed_out.html", {"title": "Signed out"})

    def _hinted_client(self, hint: str) -> str | None:
        """The client an ID token of ours was issued to; expired ones still count (RP logout)."""
        try:
            token = jwt.decode(hint, self.keys.keyset(), algorithms=["RS256"])
        except (JoseError, ValueError):
            return None
        azp = token.claims.get("azp")
        return str(azp) if azp else None

    def _logout_target_ok(self, uri: str) -> bool:
        o = self.options
        if uri in o.post_logout_redirect_uris or uri in o.redirect_uris:
            return True
        return o.allow_any_loopback_redirect and is_loopback_http(uri)


def _str(value: object) -> str | None:
    return None if value is None else str(value)
