"""The sign-in gateway's pages: the sign-in page, password and OpenID sign-in, sign-out.

Cookies: ``{session.cookie_name}`` holds the session JWT, and ``authgate_digest`` its digest for
nginx's verify cache (signin.session_digest); ``authgate_flow`` binds a provider
round trip to the browser (web.flow_binding); ``authgate_csrf`` backs the form tokens (web.csrf).
All are set through web.cookies.
"""

from __future__ import annotations

import math

import anyio
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from authgate.errors import AuthgateError, Forbidden, InvalidRequest, RateLimited, Unauthorized
from authgate.flows import FlowRecord
from authgate.roles import HIGHEST_ROLE
from authgate.signin.audit import LOCAL
from authgate.signin.handoff import with_handoff
from authgate.signin.redirects import is_same_origin, origin_of
from authgate.signin.session_digest import DIGEST_COOKIE, session_digest
from authgate.signin.sessions import EndedSession, IssuedSession, SessionClaims
from authgate.web.cookies import delete_cookie, set_cookie
from authgate.web.csrf import attach_csrf_cookie, csrf_token, verify_csrf
from authgate.web.errors import page_text, status_of, wants_json
from authgate.web.flow_binding import flow_binding, set_flow_cookie
from authgate.web.i18n import CATALOG, negotiate, translate, translate_plural
from authgate.web.pages import render
from authgate.web.request_context import bearer, runtime_of
from authgate.web.signed_in import (
    audit_client,
    next_url,
    signed_in_claims,
    signed_in_user,
)
from authgate.web.throttle import throttle

# Where sign-out lands, and a sign-in without ?next= of someone who is not an administrator:
# the sign-in page then says who is signed in, under its own heading.
LANDING = "/login"
# An administrator's sign-in without ?next= goes to the console.
ADMIN_LANDING = "/console"
LOGIN_FLOW = "login"


def allowed_origins(request: Request) -> list[str]:
    """This site and the panels' origins: who may call the panel API and sign out."""
    settings = runtime_of(request).settings
    return [settings.public_url, *settings.login.allowed_redirects]


# -- the sign-in page -------------------------------------------------------------------------

def _error_text(request: Request, exc: AuthgateError) -> str:
    key = f"login.error.{exc.error}"
    lang = negotiate(request)
    if not CATALOG.has("en", key):
        return page_text(lang, exc)
    if isinstance(exc, RateLimited):  # say how long: seconds under two minutes, then minutes
        seconds = max(1, int(exc.retry_after))
        wait = (translate_plural(lang, "login.wait.seconds", seconds) if seconds < 120
                else translate_plural(lang, "login.wait.minutes", math.ceil(seconds / 60)))
        return translate(lang, key, wait=wait)
    return translate(lang, key)


def _login_page(request: Request, *, next_to: str | None, status_code: int = 200,
                error: str | None = None, username: str | None = None,
                current: SessionClaims | None = None,
                headers: dict[str, str] | None = None) -> Response:
    runtime = runtime_of(request)
    response = render(request, "login.html", {
        "csrf": csrf_token(request), "next": next_to, "error": error, "username": username,
        "password": runtime.settings.login.password,
        "providers": runtime.signin.oidc.login_providers(),
        "current": current,
        "signed_out": request.query_params.get("signed_out") == "1"}, status_code=status_code)
    response.headers.update(headers or {})
    attach_csrf_cookie(request, response)
    return response


async def login_page(request: Request) -> Response:
    next_to = next_url(request, request.query_params.get("next"))
    found = await signed_in_user(request)
    current = found[0] if found else None
    if current is not None and next_to is not None:
        # Already signed in: go on (with a handoff code when the panel is on another origin).
        return await _redirect_after_signin(request, current.sid, next_to)
    return _login_page(request, next_to=next_to, current=current)


async def login_submit(request: Request) -> Response:
    form = await request.form()
    verify_csrf(request, form)
    throttle(request, "password_posts")
    next_to = next_url(request, str(form.get("next") or ""))
    username = str(form.get("username") or "").strip()[:150]
    password = str(form.get("password") or "")
    completion = runtime_of(request).signin.completion
    try:
        issued = await anyio.to_thread.run_sync(completion.password, username, password,
                                                audit_client(request))
    except (Unauthorized, Forbidden, RateLimited) as exc:
        if wants_json(request):
            raise
        headers = ({"Retry-After": str(exc.retry_after)} if isinstance(exc, RateLimited)
                   else {})
        return _login_page(request, next_to=next_to, status_code=status_of(exc),
                           error=_error_text(request, exc), username=username, headers=headers)
    return await _finish_signin(request, issued, next_to)


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
    throttle(request, "flow_starts")
    name = request.path_params["provider"]
    oidc = runtime.signin.oidc
    conf = oidc.provider(name)
    next_to = next_url(request, request.query_params.get("next"))
    redirect_uri = runtime.settings.redirect_uri(name)
    if request.url.path.startswith("/api/auth/oidc/") and not conf.callback_path:
        # Started at the seed panel's path: come back to its registered callback path too.
        redirect_uri = f"{runtime.settings.public_url}/api/auth/oidc/{name}/callback"
    binding = flow_binding(request)
    url = await oidc.begin(name, redirect_uri=redirect_uri, binding=binding,
                           next_url=next_to, login_hint=_login_hint(request))
    response = RedirectResponse(url, status_code=302)
    set_flow_cookie(request, response, binding)
    return response


async def finish_login(request: Request, provider: str, flow: FlowRecord) -> Response:
    """The callback of a sign-in flow (web.callback hands it over)."""
    signin, client = runtime_of(request).signin, audit_client(request)
    try:
        identity = await signin.oidc.finish(provider, request.query_params, flow)
        issued = await anyio.to_thread.run_sync(signin.completion.provider, identity, client)
    except AuthgateError as exc:
        await anyio.to_thread.run_sync(signin.completion.provider_failed, provider, exc, client)
        raise
    return await _finish_signin(request, issued, next_url(request, flow.next_url))


async def log_unmatched_callback(request: Request, provider: str, exc: AuthgateError) -> None:
    """A forged, replayed or expired state at a sign-in provider's callback is a failed sign-in
    attempt: it goes into the sign-in log like the others (no user: none was identified)."""
    signin = runtime_of(request).signin
    if any(name == provider for name, _label in signin.oidc.login_providers()):
        await anyio.to_thread.run_sync(signin.completion.provider_failed, provider, exc,
                                       audit_client(request))


# -- after a successful sign-in ---------------------------------------------------------------

async def _finish_signin(request: Request, issued: IssuedSession,
                         next_to: str | None) -> Response:
    previous = signed_in_claims(request)
    if previous is not None and previous.sid != issued.sid:
        await anyio.to_thread.run_sync(runtime_of(request).signin.sessions.end, previous.sid)
    landing = ADMIN_LANDING if issued.user.role == HIGHEST_ROLE else LANDING
    response = await _redirect_after_signin(request, issued.sid, next_to or landing)
    settings = runtime_of(request).settings
    max_age = int(settings.session.lifetime.total_seconds())
    set_cookie(request, response, settings.session.cookie_name, issued.token, max_age=max_age)
    # For nginx's verify cache (signin/session_digest.py): lives and dies with the session's.
    set_cookie(request, response, DIGEST_COOKIE, session_digest(issued.token), max_age=max_age)
    return response


async def _redirect_after_signin(request: Request, sid: str, target: str) -> Response:
    runtime = runtime_of(request)
    origin = origin_of(target)
    if origin is not None and not is_same_origin(target, runtime.settings.public_url):
        now = runtime.clock.now()
        code = await anyio.to_thread.run_sync(
            lambda: runtime.signin.handoff.create(sid, now, origin=origin))
        target = with_handoff(target, code)
    return RedirectResponse(target, status_code=303)


# -- sign-out ---------------------------------------------------------------------------------

async def logout_page(request: Request) -> Response:
    found = await signed_in_user(request)
    response = render(request, "logout.html", {"current": found[0] if found else None,
                                               "csrf": csrf_token(request)})
    attach_csrf_cookie(request, response)
    return response


async def _check_logout_request(request: Request) -> None:
    """Signing out is a state change like any other: a cross-site page must not do it. A
    panel's script proves itself with its Bearer token (a header no other site can send
    without a CORS preflight) or a same-origin ``Origin``; a form with its CSRF token."""
    origin = request.headers.get("origin")
    if origin and origin != "null" and origin not in allowed_origins(request):
        raise Forbidden("Sign-out must come from this site or a configured panel.",
                        error="foreign_origin")
    if bearer(request) is not None or origin in allowed_origins(request):
        return
    verify_csrf(request, await request.form())


async def logout(request: Request) -> Response:
    runtime = runtime_of(request)
    signin = runtime.signin
    await _check_logout_request(request)
    ended = EndedSession(None)
    claims = signed_in_claims(request)
    if claims is not None:
        ended = await anyio.to_thread.run_sync(signin.sessions.end, claims.sid)
    landing = f"{runtime.settings.public_url}{LANDING}"
    sign_out = None
    if ended.provider and ended.provider != LOCAL:
        sign_out = await signin.oidc.end_session(ended.provider, id_token=ended.id_token,
                                                 post_logout_redirect_uri=landing)
    response: Response
    if wants_json(request):
        # A panel's script gets the hint-less URL: an ID token is never handed to scripts.
        response = JSONResponse({"signed_out": True,
                                 "logout_url": sign_out.url if sign_out else None})
    elif sign_out is None:
        response = RedirectResponse(f"{LANDING}?signed_out=1", status_code=303)
    elif not sign_out.post:
        response = RedirectResponse(sign_out.url, status_code=303)
    else:
        # The hint travels in a form body, never in a URL; static JS submits it at once, and
        # without JavaScript the person presses the button.
        response = render(request, "logout_provider.html",
                          {"form": sign_out.form, "provider": sign_out.provider_label})
    delete_cookie(request, response, runtime.settings.session.cookie_name)
    delete_cookie(request, response, DIGEST_COOKIE)
    return response
