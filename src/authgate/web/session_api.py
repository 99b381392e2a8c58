"""What panels, their back-ends and nginx ask the gateway: who is signed in (``/auth/me``), the
session JWT for a handoff code (``/auth/token``), the ``auth_request`` check (``/auth/verify``)
and the public keys (``/.well-known/jwks.json``)."""

from __future__ import annotations

import time
from urllib.parse import quote, urlencode, urlsplit

import anyio
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from authgate.errors import Forbidden, InvalidRequest, Unauthorized
from authgate.roles import meets_role
from authgate.signin.redirects import is_same_origin, origin_of
from authgate.signin.sessions import SessionClaims
from authgate.timefmt import iso
from authgate.web.errors import error_response
from authgate.web.request_context import runtime_of
from authgate.web.signed_in import next_url, presented_session, session_token

# A session with less left than this is not kept by nginx at all (its expiry is in the
# sessions' clock, nginx's cache in the wall clock's whole seconds).
_CACHE_SECONDS_LEFT = 2.0


async def me(request: Request) -> Response:
    """The signed-in user, for the session cookie or a Bearer token meant for the gateway, or
    a panel's own token sent from that panel's origin."""
    sessions = runtime_of(request).signin.sessions
    token, audience = presented_session(request)
    _claims, user, provider = await anyio.to_thread.run_sync(
        lambda: sessions.current(token, audience=audience))
    return JSONResponse({"username": user.username, "role": user.role, "email": user.email,
                         "name": user.name, "picture": user.picture, "provider": provider})


async def token_exchange(request: Request) -> Response:
    runtime = runtime_of(request)
    if request.headers.get("content-type", "").startswith("application/json"):
        try:
            body = await request.json()
        except ValueError:
            body = None
        code = body.get("code") if isinstance(body, dict) else None
    else:
        code = (await request.form()).get("code")
    now = runtime.clock.now()
    origin = request.headers.get("origin")
    sid = await anyio.to_thread.run_sync(lambda: runtime.signin.handoff.redeem(
        code if isinstance(code, str) else None, now, origin=origin))
    # The code was made for this Origin (redeem checked it): the token is for that panel only.
    panel = origin_of(origin or "")
    assert panel is not None
    issued = await anyio.to_thread.run_sync(
        lambda: runtime.signin.sessions.reissue(sid, audience=panel))
    # username and role too: what the seed's front-end read from its URL, now from a body.
    return JSONResponse({"access_token": issued.token, "token_type": "Bearer",
                         "expires_at": iso(issued.expires_at),
                         "expires_in": max(0, int((issued.expires_at - now).total_seconds())),
                         "username": issued.user.username, "role": issued.user.role})


def _header_value(value: str) -> str:
    # Headers are Latin-1 on the wire and end at a line break: percent-encode the rare username
    # or email that is not printable ASCII (a CR/LF would otherwise drop the connection).
    if value.isascii() and value.isprintable():
        return value
    return quote(value, safe="@.+-_!#$&'*/=?^`{|}~")


def _named_audience(request: Request) -> str | None:
    """``?aud=<origin>``: the nginx site of an app on another origin names itself, so that the
    tokens handed to that app (``/auth/token``) are accepted there, and only there."""
    value = request.query_params.get("aud")
    if not value:
        return None
    parts = urlsplit(value)
    origin = origin_of(value)
    if origin is None or parts.path not in ("", "/") or parts.query or parts.fragment:
        raise InvalidRequest("aud must be an origin, like https://panel.example.com",
                             error="invalid_audience")
    return origin


async def verify(request: Request) -> Response:
    """nginx ``auth_request``: answered from memory (see SessionService.verify), with a
    revocation set never older than its interval (see signin/revocations.py). A token is
    accepted when it is meant for the gateway (the session cookie's) or for ``?aud=``."""
    signin = runtime_of(request).signin
    audience = _named_audience(request)
    await signin.revocations.refresh()
    try:
        claims = signin.sessions.verify(session_token(request), audience=audience)
    except Unauthorized as exc:
        return _verify_unauthorized(request, exc)
    wanted = request.query_params.get("role")
    if wanted and not meets_role(claims.role, wanted):
        raise Forbidden("Your role does not allow this.", error="role_required")
    return Response(status_code=200, headers=dict(verified_headers(
        claims, signin.sessions.seconds_left(claims))))


def verified_headers(claims: SessionClaims, seconds_left: float) -> list[tuple[str, str]]:
    """The identity nginx hands to the app, and how long nginx may keep this answer:
    ``X-Accel-Expires: @<this second>`` (an absolute time, in whole seconds, which nginx's cache
    serves until that second is over), never past the session's own expiry. The key nginx keeps
    it under also holds the verdict epoch, so a change here is seen at once (verdict_epoch.py)."""
    headers = [("X-Auth-Request-User", _header_value(claims.username)),
               ("X-Auth-Request-Email", _header_value(claims.email or "")),
               ("X-Auth-Request-Role", _header_value(claims.role))]
    if seconds_left >= _CACHE_SECONDS_LEFT:
        # nginx's clock is the wall clock, whatever clock the sessions run on.
        headers.append(("X-Accel-Expires", f"@{int(time.time())}"))
    return headers


def _verify_unauthorized(request: Request, exc: Unauthorized) -> Response:
    """401, plus the sign-in address for nginx to send the browser to: nginx cannot URL-encode
    the original URI into ``next`` itself, so the gateway does (and checks it is ours)."""
    response = error_response(request, exc)
    original = request.headers.get("x-original-uri")
    try:
        target = next_url(request, original)
    except InvalidRequest:
        target = None
    if target and is_same_origin(target, runtime_of(request).settings.public_url):
        response.headers["X-Auth-Request-Redirect"] = "/login?" + urlencode({"next": target})
    return response


async def jwks(request: Request) -> Response:
    # Short max-age: verifiers should refetch on an unknown kid anyway, but a rotation's new key
    # then reaches those that do not within a minute.
    return JSONResponse(runtime_of(request).signin.keys.jwks(),
                        headers={"Cache-Control": "public, max-age=60"})
