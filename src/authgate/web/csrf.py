"""CSRF protection for every HTML form (sign-in page, console): a signed token bound to the
browser's session.

The browser holds a random value in the HttpOnly cookie ``authgate_csrf`` (``__Host-authgate_csrf``
under https, so that neither a sibling sub-domain nor a plain-HTTP page can set it); each form
carries ``HMAC(key, binding, value)`` in the hidden field ``csrf_token``, where ``binding`` is the
id of the session the browser is signed in with (from the session cookie), or "anonymous" before
sign-in. A cross-site page can neither read the cookie nor compute the HMAC. An attacker who
plants a cookie value together with the token this site gave *them* for it still fails on a
signed-in victim: the token names the attacker's session (or none), not the victim's. Before
sign-in the token is only as strong as the cookie: the ``__Host-`` prefix is what keeps it from
being planted, so a deployment on plain http has no protection against login CSRF from a
sibling sub-domain. As a second line, a POST whose ``Origin`` (or, without it, ``Referer``) names
another origin is refused outright ("null" and absent headers say nothing and are let through to
the token check).

The key is 32 random bytes in ``data_dir/csrf.key`` (0600), loaded by the runtime and shared by
every process on that data_dir, so a form rendered by one worker posts fine to another and
survives a restart; with ``[keyring] master_key`` it is derived from the master key instead, so
that it is the same on every replica. A form rendered before a sign-in (or under another
session) fails after it: the person reloads the page.

Use in a route::

    token = csrf_token(request)              # put into the form as csrf_token
    response = render(...)
    attach_csrf_cookie(request, response)    # sets the cookie when this request created it
    ...
    form = await request.form()
    verify_csrf(request, form)               # raises Forbidden("csrf_failed")
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import Response

from authgate.errors import Forbidden
from authgate.web.cookies import host_cookie_name, set_cookie
from authgate.web.request_context import runtime_of
from authgate.web.signed_in import signed_in_claims

CSRF_COOKIE = "authgate_csrf"
CSRF_FIELD = "csrf_token"
_STATE_ATTR = "authgate_new_csrf_cookie"
_ANONYMOUS = "anonymous"


def _key(request: Request) -> bytes:
    return runtime_of(request).csrf_key


def _binding(request: Request) -> str:
    """The session this browser is signed in with (cookie only: forms never carry a Bearer)."""
    claims = signed_in_claims(request, cookie_only=True)
    return f"session:{claims.sid}" if claims is not None else _ANONYMOUS


def _sign(key: bytes, binding: str, value: str) -> str:
    message = b"authgate-csrf\x00" + binding.encode() + b"\x00" + value.encode()
    mac = hmac.new(key, message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).decode().rstrip("=")


def _cookie_value(request: Request) -> str | None:
    value = request.cookies.get(host_cookie_name(request, CSRF_COOKIE), "")
    return value if 32 <= len(value) <= 64 else None


def csrf_token(request: Request) -> str:
    """The token for this browser's forms (creating the browser's cookie value if needed)."""
    value = _cookie_value(request) or getattr(request.state, _STATE_ATTR, None)
    if value is None:
        value = secrets.token_urlsafe(32)
        setattr(request.state, _STATE_ATTR, value)
    return _sign(_key(request), _binding(request), value)


def attach_csrf_cookie(request: Request, response: Response) -> None:
    value = getattr(request.state, _STATE_ATTR, None)
    if value is not None:
        set_cookie(request, response, host_cookie_name(request, CSRF_COOKIE), value)


def _foreign_origin(request: Request) -> bool:
    public = urlsplit(runtime_of(request).settings.public_url)
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        # Browsers send "Origin: null" under our own Referrer-Policy: no-referrer, and then no
        # Referer either; a missing header says nothing. The token decides in those cases.
        origin = request.headers.get("referer")
        if not origin:
            return False
    seen = urlsplit(origin)
    return (seen.scheme, seen.netloc) != (public.scheme, public.netloc)


def verify_csrf(request: Request, form: Mapping[str, Any]) -> None:
    refused = Forbidden("This form has expired or was sent from another site. Please reload "
                        "the page and try again.", error="csrf_failed")
    if _foreign_origin(request):
        raise refused
    value = _cookie_value(request)
    sent = form.get(CSRF_FIELD)
    if value is None or not isinstance(sent, str) or not hmac.compare_digest(
            sent.encode(), _sign(_key(request), _binding(request), value).encode()):
        raise refused
