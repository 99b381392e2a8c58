"""The sign-in gateway's HTTP face: the sign-in page, password and OpenID sign-in, sign-out, the
session endpoints panels and nginx use, and the JWKS.

Cookies: ``{session.cookie_name}`` holds the session JWT (HttpOnly, SameSite=Lax, Secure under
https); ``authgate_flow`` binds a provider round trip to the browser (web.callback);
``authgate_csrf`` backs the form tokens (web.csrf).
"""

from __future__ import annotations

from datetime import datetime
from urllib.parse import quote, urlencode

import anyio
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from authgate.errors import AuthgateError, Forbidden, InvalidRequest, RateLimited, Unauthorized
from authgate.flows import FlowRecord
from authgate.protocol.oidc_roles import HIGHEST_ROLE
from authgate.runtime import Runtime
from authgate.signin.audit import LOCAL, Client
from authgate.signin.handoff import with_handoff
from authgate.signin.redirects import is_same_origin, safe_next
from authgate.signin.sessions import EndedSession, IssuedSession, SessionClaims
from authgate.signin.wiring import SigninServices, signin_services
from authgate.web.callback import (
    flow_binding,
    on_unmatched_state,
    register_finisher,
    set_flow_cookie,
)
from authgate.web.csrf import attach_csrf_cookie, csrf_token, verify_csrf
from authgate.web.deps import bearer, client_ip, runtime_of
from authgate.web.errors import error_response, status_of, wants_json
from authgate.web.i18n import CATALOG, LANGS, negotiate, translate
from authgate.web.pages import render
from authgate.web.signin_messages import register_messages

# Where a sign-in lands without ?next=: the sign-in page itself shows who is signed in.
LANDING = "/login"

register_messages()


def _svc(request: Request) -> SigninServices:
    return signin_services(runtime_of(request))


def _client(request: Request) -> Client:
    return Client(ip=client_ip(request), user_agent=request.headers.get("user-agent"))


def _next(request: Request, value: str | None) -> str | None:
    settings = runtime_of(request).settings
    return safe_next(value, public_url=settings.public_url,
                     allowed_origins=settings.login.allowed_redirects)


def _token(request: Request) -> str | None:
    return bearer(request) or request.cookies.get(runtime_of(request).settings.session.cookie_name)


def _signed_in_claims(request: Request) -> SessionClaims | None:
    """The session the request carries, from memory (revocations may lag ~1 s)."""
    try:
        return _svc(request).sessions.verify(_token(request))
    except Unauthorized:
        return None


async def _signed_in_now(request: Request) -> SessionClaims | None:
    """The same, checked against the database: for pages that show or reuse the session."""
    if _signed_in_claims(request) is None:
        return None
    try:
        claims, _user, _provider = await anyio.to_thread.run_sync(
            _svc(request).sessions.current, _token(request))
    except Unauthorized:
        return None
    return claims


def _allowed_origins(request: Request) -> set[str]:
    settings = runtime_of(request).settings
    return {settings.public_url, *settings.login.allowed_redirects}


def _cors(request: Request) -> dict[str, str]:
    """CORS for panels on the allowed origins, which call us with a Bearer token (no cookies)."""
    origin = request.headers.get("origin")
    if origin and origin in _allowed_origins(request):
        return {"Access-Control-Allow-Origin": origin, "Vary": "Origin"}
    return {"Vary": "Origin"}


async def preflight(request: Request) -> Response:
    headers = _cors(request)
    if "Access-Control-Allow-Origin" not in headers:
        return Response(status_code=403, headers=headers)
    return Response(status_code=204, headers={
        **headers, "Access-Control-Allow-Methods": "GET, POST",
        "Access-Control-Allow-Headers": "Authorization, Content-Type",
        "Access-Control-Max-Age": "600"})


# -- the sign-in page -------------------------------------------------------------------------

def _lang_links(request: Request) -> list[tuple[str, str]]:
    """Language switch links that keep ?next= (the header's switch drops the query)."""
    keep = [(k, v) for k, v in request.query_params.multi_items() if k != "lang"]
    return [(code, "?" + urlencode([*keep, ("lang", code)])) for code in LANGS]


def _error_text(request: Request, exc: AuthgateError) -> str:
    key = f"login.error.{exc.error}"
    lang = negotiate(request)
    return translate(lang, key) if key in CATALOG["en"] else exc.detail


def _login_page(request: Request, *, next_url: str | None, status_code: int = 200,
                error: str | None = None, username: str | None = None,
                current: SessionClaims | None = None,
                headers: dict[str, str] | None = None) -> Response:
    runtime = runtime_of(request)
    response = render(request, "login.html", {
        "csrf": csrf_token(request), "next": next_url, "error": error, "username": username,
        "password": runtime.settings.login.password,
        "providers": _svc(request).oidc.login_providers(),
        "current": current,
        "signed_out": request.query_params.get("signed_out") == "1",
        "lang_links": _lang_links(request)}, status_code=status_code)
    response.headers.update(headers or {})
    attach_csrf_cookie(request, response)
    return response


async def login_page(request: Request) -> Response:
    next_url = _next(request, request.query_params.get("next"))
    current = await _signed_in_now(request)
    if current is not None and next_url is not None:
        # Already signed in: go on (with a handoff code when the panel is on another origin).
        return await _redirect_after_signin(request, current.sid, next_url)
    return _login_page(request, next_url=next_url, current=current)


async def login_submit(request: Request) -> Response:
    form = await request.form()
    verify_csrf(request, form)
    next_url = _next(request, str(form.get("next") or ""))
    username = str(form.get("username") or "").strip()[:150]
    password = str(form.get("password") or "")
    svc = _svc(request)
    try:
        issued = await anyio.to_thread.run_sync(svc.signins.password, username, password,
                                                _client(request))
    except (Unauthorized, Forbidden, RateLimited) as exc:
        if wants_json(request):
            raise
        headers = ({"Retry-After": str(exc.retry_after)} if isinstance(exc, RateLimited)
                   else {})
        return _login_page(request, next_url=next_url, status_code=status_of(exc),
                           error=_error_text(request, exc), username=username, headers=headers)
    return await _finish_signin(request, issued, next_url)


# -- OpenID Connect ---------------------------------------------------------------------------

def _login_hint(request: Request) -> str | None:
    hint = request.query_params.get("login_hint")
    if hint is None:
        return None
    if len(hint) > 254 or not hint.isprintable():
        raise InvalidRequest("login_hint is not a plausible login name", error="invalid_request")
    return hint


async def oidc_start(request: Request) -> Response:
    runtime = runtime_of(request)
    name = request.path_params["provider"]
    svc = _svc(request)
    conf = svc.oidc.provider(name)
    next_url = _next(request, request.query_params.get("next"))
    redirect_uri = runtime.settings.redirect_uri(name)
    if request.url.path.startswith("/api/auth/oidc/") and not conf.callback_path:
        # Started at the seed panel's path: come back to its registered callback path too.
        redirect_uri = f"{runtime.settings.public_url}/api/auth/oidc/{name}/callback"
    binding = flow_binding(request)
    url = await svc.oidc.begin(name, redirect_uri=redirect_uri, binding=binding,
                               next_url=next_url, login_hint=_login_hint(request))
    response = RedirectResponse(url, status_code=302)
    set_flow_cookie(request, response, binding)
    return response


async def finish_login(request: Request, provider: str, flow: FlowRecord) -> Response:
    svc, client = _svc(request), _client(request)
    try:
        identity = await svc.oidc.finish(provider, request.query_params, flow)
        issued = await anyio.to_thread.run_sync(svc.signins.provider, identity, client)
    except AuthgateError as exc:
        await anyio.to_thread.run_sync(svc.signins.provider_failed, provider, exc, client)
        raise
    return await _finish_signin(request, issued, _next(request, flow.next_url))


register_finisher("login", finish_login)


async def log_unmatched_callback(request: Request, provider: str, exc: AuthgateError) -> None:
    """A forged, replayed or expired state at a sign-in provider's callback is a failed sign-in
    attempt: it goes into the sign-in log like the others (no user: none was identified)."""
    svc = _svc(request)
    if any(name == provider for name, _label in svc.oidc.login_providers()):
        await anyio.to_thread.run_sync(svc.signins.provider_failed, provider, exc,
                                       _client(request))


on_unmatched_state(log_unmatched_callback)


# -- after a successful sign-in ---------------------------------------------------------------

def _set_session_cookie(request: Request, response: Response, issued: IssuedSession) -> None:
    settings = runtime_of(request).settings
    response.set_cookie(settings.session.cookie_name, issued.token,
                        max_age=int(settings.session.lifetime.total_seconds()), path="/",
                        httponly=True, samesite="lax", secure=settings.is_https)


async def _finish_signin(request: Request, issued: IssuedSession,
                         next_url: str | None) -> Response:
    previous = _signed_in_claims(request)
    if previous is not None and previous.sid != issued.sid:
        await anyio.to_thread.run_sync(_svc(request).sessions.end, previous.sid)
    response = await _redirect_after_signin(request, issued.sid, next_url or LANDING)
    _set_session_cookie(request, response, issued)
    return response


async def _redirect_after_signin(request: Request, sid: str, target: str) -> Response:
    runtime = runtime_of(request)
    if not is_same_origin(target, runtime.settings.public_url):
        now = runtime.clock.now()
        code = await anyio.to_thread.run_sync(_svc(request).handoff.create, sid, now)
        target = with_handoff(target, code)
    return RedirectResponse(target, status_code=303)


# -- sign-out ---------------------------------------------------------------------------------

async def logout_page(request: Request) -> Response:
    return render(request, "logout.html", {"current": await _signed_in_now(request)})


async def logout(request: Request) -> Response:
    runtime, svc = runtime_of(request), _svc(request)
    origin = request.headers.get("origin")
    if origin and origin != "null" and origin not in _allowed_origins(request):
        raise Forbidden("Sign-out must come from this site or a configured panel.",
                        error="foreign_origin")
    ended = EndedSession(None)
    claims = _signed_in_claims(request)
    if claims is not None:
        ended = await anyio.to_thread.run_sync(svc.sessions.end, claims.sid)
    landing = f"{runtime.settings.public_url}{LANDING}"
    sign_out = None
    if ended.provider and ended.provider != LOCAL:
        sign_out = await svc.oidc.end_session(ended.provider, id_token=ended.id_token,
                                              post_logout_redirect_uri=landing)
    response: Response
    if wants_json(request):
        # A panel's script gets the hint-less URL: an ID token is never handed to scripts.
        response = JSONResponse({"signed_out": True,
                                 "logout_url": sign_out.url if sign_out else None},
                                headers=_cors(request))
    elif sign_out is None:
        response = RedirectResponse(f"{LANDING}?signed_out=1", status_code=303)
    elif not sign_out.post:
        response = RedirectResponse(sign_out.url, status_code=303)
    else:
        # The hint travels in a form body, never in a URL; static JS submits it at once, and
        # without JavaScript the person presses the button.
        response = render(request, "logout_provider.html",
                          {"form": sign_out.form, "provider": sign_out.provider_label})
    settings = runtime.settings
    response.delete_cookie(settings.session.cookie_name, path="/", httponly=True,
                           samesite="lax", secure=settings.is_https)
    return response


# -- for panels, back-ends and nginx ----------------------------------------------------------

async def me(request: Request) -> Response:
    svc = _svc(request)
    token = _token(request)
    _claims, user, provider = await anyio.to_thread.run_sync(svc.sessions.current, token)
    return JSONResponse({"username": user.username, "role": user.role, "email": user.email,
                         "name": user.name, "picture": user.picture, "provider": provider},
                        headers=_cors(request))


async def token_exchange(request: Request) -> Response:
    runtime, svc = runtime_of(request), _svc(request)
    if request.headers.get("content-type", "").startswith("application/json"):
        try:
            body = await request.json()
        except ValueError:
            body = None
        code = body.get("code") if isinstance(body, dict) else None
    else:
        code = (await request.form()).get("code")
    now = runtime.clock.now()
    sid = await anyio.to_thread.run_sync(svc.handoff.redeem,
                                         code if isinstance(code, str) else None, now)
    issued = await anyio.to_thread.run_sync(svc.sessions.reissue, sid)
    # username and role too: what the seed's front-end read from its URL, now from a body.
    return JSONResponse({"access_token": issued.token, "token_type": "Bearer",
                         "expires_at": _iso(issued.expires_at),
                         "expires_in": max(0, int((issued.expires_at - now).total_seconds())),
                         "username": issued.user.username, "role": issued.user.role},
                        headers=_cors(request))


def _iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def _role_met(role: str, wanted: str) -> bool:
    """``?role=a,b``: any of the listed roles; the admin role meets every requirement."""
    return role == HIGHEST_ROLE or role in {r.strip() for r in wanted.split(",") if r.strip()}


def _header_value(value: str) -> str:
    # Headers are Latin-1 on the wire; percent-encode the rare non-ASCII username or email.
    return value if value.isascii() else quote(value, safe="@.+-_!#$&'*/=?^`{|}~")


async def verify(request: Request) -> Response:
    """nginx ``auth_request``: answered from memory (see SessionService.verify)."""
    try:
        claims = _svc(request).sessions.verify(_token(request))
    except Unauthorized as exc:
        return _verify_unauthorized(request, exc)
    wanted = request.query_params.get("role")
    if wanted and not _role_met(claims.role, wanted):
        raise Forbidden("Your role does not allow this.", error="role_required")
    return Response(status_code=200, headers={
        "X-Auth-Request-User": _header_value(claims.username),
        "X-Auth-Request-Email": _header_value(claims.email or ""),
        "X-Auth-Request-Role": _header_value(claims.role)})


def _verify_unauthorized(request: Request, exc: Unauthorized) -> Response:
    """401, plus the sign-in address for nginx to send the browser to: nginx cannot URL-encode
    the original URI into ``next`` itself, so the gateway does (and checks it is ours)."""
    response = error_response(request, exc)
    original = request.headers.get("x-original-uri")
    try:
        target = _next(request, original)
    except InvalidRequest:
        target = None
    if target and is_same_origin(target, runtime_of(request).settings.public_url):
        response.headers["X-Auth-Request-Redirect"] = "/login?" + urlencode({"next": target})
    return response


async def jwks(request: Request) -> Response:
    # Short max-age: verifiers should refetch on an unknown kid anyway, but a rotation's new key
    # then reaches those that do not within a minute.
    return JSONResponse(_svc(request).keys.jwks(),
                        headers={"Cache-Control": "public, max-age=60"})


def routes(runtime: Runtime) -> list[BaseRoute]:
    # The first signing key is made at start, not on the first sign-in; revocations preloaded.
    services = signin_services(runtime)
    services.keys.load()
    services.revocations.load()
    return [
        Route("/login", login_page, methods=["GET"]),
        Route("/login", login_submit, methods=["POST"]),
        Route("/logout", logout_page, methods=["GET"]),
        Route("/logout", logout, methods=["POST"]),
        Route("/logout", preflight, methods=["OPTIONS"]),
        Route("/auth/{provider}/login", oidc_start, methods=["GET"]),
        Route("/api/auth/oidc/{provider}/login", oidc_start, methods=["GET"]),
        Route("/auth/me", me, methods=["GET"]),
        Route("/api/auth/me", me, methods=["GET"]),
        Route("/auth/me", preflight, methods=["OPTIONS"]),
        Route("/api/auth/me", preflight, methods=["OPTIONS"]),
        Route("/auth/token", token_exchange, methods=["POST"]),
        Route("/auth/token", preflight, methods=["OPTIONS"]),
        Route("/auth/verify", verify, methods=["GET", "HEAD"]),
        Route("/.well-known/jwks.json", jwks, methods=["GET"]),
    ]
