"""Which redirect URIs each emulated provider accepts."""

from __future__ import annotations

import ipaddress
from urllib.parse import parse_qsl, urlsplit

from authgate.devidp.common import is_loopback_http


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def hh_redirect_allowed(requested: str, registered: str) -> bool:
    """hh.ru's documented rule for a ``redirect_uri`` against the registered one.

    Allowed: a sub-domain, a longer path below the registered one, extra query parameters.
    Refused: another scheme, another domain, another path, a port that was not registered
    (even ``:80`` when the registered URI has no port).
    """
    req, reg = urlsplit(requested), urlsplit(registered)
    try:
        req_port, reg_port = req.port, reg.port
    except ValueError:
        return False
    if req.fragment or req.scheme.lower() != reg.scheme.lower() or req_port != reg_port:
        return False
    if req.username != reg.username or req.password != reg.password:
        return False
    req_host, reg_host = (req.hostname or ""), (reg.hostname or "")
    if not reg_host:
        return False
    same_host = req_host == reg_host
    sub_domain = not _is_ip(reg_host) and req_host.endswith("." + reg_host)
    if not (same_host or sub_domain):
        return False
    base_path = reg.path.rstrip("/")
    if not (req.path == reg.path or req.path == base_path or req.path.startswith(base_path + "/")):
        return False
    # Parameters of the registered URI must survive; more may be added.
    req_query = parse_qsl(req.query, keep_blank_values=True)
    return all(pair in req_query for pair in parse_qsl(reg.query, keep_blank_values=True))


def hh_redirect_matches_any(requested: str, registered: list[str]) -> bool:
    return any(hh_redirect_allowed(requested, r) for r in registered)


def oidc_redirect_allowed(requested: str, registered: list[str], allow_any_loopback: bool) -> bool:
    """OpenID Connect wants an exact match; loopback URIs pass too when the option allows it."""
    if not requested or urlsplit(requested).fragment:
        return False
    if requested in registered:
        return True
    return allow_any_loopback and is_loopback_http(requested)
