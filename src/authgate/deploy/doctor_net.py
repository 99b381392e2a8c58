"""The doctor's network checks: providers (reachable, redirect URI accepted, clock) and the proxy.

A provider will not say which redirect URI is registered, so the doctor asks for real: it sends
the authorization request a sign-in would send, without following redirects. A provider that
refuses the redirect URI answers an error page itself (RFC 6749 §4.1.2.1 forbids redirecting
to an unverified URI), typically with 400; one that accepts it shows its sign-in page or
redirects onwards. Nothing is signed in and no code is issued.
"""

from __future__ import annotations

import html
import json
import re
import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from urllib.parse import urlencode, urlsplit

import httpx

from authgate.config import ProviderSettings, Settings
from authgate.deploy.doctor_check import Check
from authgate.errors import ProviderError
from authgate.protocol.oidc_discovery import ProviderMetadata, discovery_url
from authgate.protocol.rfc7636_pkce import new_opaque_value, new_pkce_pair
from authgate.providers import hh
from authgate.providers.presets import preset_for

TIMEOUT = 10.0
MAX_SKEW = 30.0


@dataclass
class ProviderProbe:
    """What was learned about one provider: its authorize endpoint and the clock skew."""

    results: list[Check]
    authorize_endpoint: str | None = None
    skew: float | None = None


def _skew(response: httpx.Response, received_at: float) -> float | None:
    """Provider clock minus ours, in seconds, from the ``Date`` header (1 s resolution)."""
    try:
        return parsedate_to_datetime(response.headers["date"]).timestamp() - received_at
    except (KeyError, TypeError, ValueError, IndexError):
        return None


async def _get(http: httpx.AsyncClient, url: str, headers: dict[str, str] | None = None
               ) -> tuple[httpx.Response, float]:
    response = await http.get(url, headers=headers or {}, timeout=TIMEOUT,
                              follow_redirects=False)
    return response, time.time()


def _headers(conf: ProviderSettings) -> dict[str, str]:
    # hh.ru answers 400 bad_user_agent to any request without one.
    if conf.kind == "hh":
        return {"HH-User-Agent": conf.user_agent, "User-Agent": conf.user_agent}
    return {}


async def probe_provider(http: httpx.AsyncClient, name: str, conf: ProviderSettings
                         ) -> ProviderProbe:
    """Reachability (OIDC: discovery + issuer equality; others: any HTTP answer)."""
    label = f"provider {name}: reachable"
    if conf.kind == "oidc":
        url = discovery_url(conf.issuer)
    elif conf.kind == "hh":
        url = f"{(conf.api_base or hh.API_BASE).rstrip('/')}/me"
    else:
        preset = preset_for(conf.kind)
        url = conf.token_url or (preset.token_url if preset else "")
    try:
        response, received_at = await _get(http, url, _headers(conf))
    except httpx.HTTPError as exc:
        return ProviderProbe([Check(label, False, f"no answer from {url} ({type(exc).__name__})",
                                     "check DNS, outbound firewall and proxy settings")])
    probe = ProviderProbe([], skew=_skew(response, received_at))
    if conf.kind != "oidc":
        preset = preset_for(conf.kind)
        probe.authorize_endpoint = conf.authorize_url or (
            hh.AUTHORIZE_URL if conf.kind == "hh"
            else preset.authorize_url if preset else None)
        probe.results.append(Check(label, True, f"{url} answered HTTP {response.status_code}"))
        return probe
    if response.status_code != 200:
        probe.results.append(Check(label, False, f"{url} answered HTTP {response.status_code}",
                                    "is issuer right? it must be the exact issuer URL"))
        return probe
    try:
        document = json.loads(response.content)
        if not isinstance(document, dict):
            raise ValueError("not an object")
        metadata = ProviderMetadata.from_document(document, expected_issuer=conf.issuer)
    except ValueError:
        probe.results.append(Check(label, False, f"{url} is not a JSON discovery document"))
        return probe
    except ProviderError as exc:
        probe.results.append(Check(label, False, exc.detail))
        return probe
    probe.authorize_endpoint = conf.authorize_url or metadata.authorization_endpoint
    probe.results.append(Check(label, True, f"discovery document OK, issuer {conf.issuer}"))
    return probe


async def probe_redirect_uri(http: httpx.AsyncClient, name: str, conf: ProviderSettings,
                             endpoint: str, redirect_uri: str, *, required: bool) -> Check:
    """Send the authorization request a sign-in would send and see whether it is refused."""
    label = f"provider {name}: redirect URI accepted"
    params = {"response_type": "code", "client_id": conf.client_id,
              "redirect_uri": redirect_uri, "state": new_opaque_value()}
    if conf.kind == "oidc":
        params |= {"scope": " ".join(conf.scopes or ["openid"]), "nonce": new_opaque_value()}
    if conf.pkce:
        pkce = new_pkce_pair()
        params |= {"code_challenge": pkce.challenge, "code_challenge_method": pkce.method}
    url = endpoint + ("&" if "?" in endpoint else "?") + urlencode(params)
    try:
        response, _ = await _get(http, url, _headers(conf))
    except httpx.HTTPError as exc:
        return Check(label, True, f"cannot tell: no answer from {endpoint} "
                      f"({type(exc).__name__})", warning=True)
    status = response.status_code
    if status < 300:
        return Check(label, True, f"{redirect_uri} (the provider shows its sign-in page)")
    if status < 400:
        location = response.headers.get("location", "")
        where = ("back to it" if location.startswith(redirect_uri)
                 else f"on to {urlsplit(location).netloc or location[:60] or 'another page'}")
        return Check(label, True, f"{redirect_uri} (the provider redirects {where})")
    if status >= 500:
        return Check(label, True, f"cannot tell: {endpoint} answered HTTP {status}",
                      warning=True)
    said = page_text(response)
    hint = (f"register exactly {redirect_uri} as a redirect URI of client {conf.client_id!r} "
            f"at the provider, or change public_url"
            + ("" if conf.callback_path else " / callback_path") + " to match the registered one")
    if not required:
        hint += (f"; only needed if a panel signs in through /api/auth/oidc/{name}/login")
    return Check(label, not required,
                  f"the provider refused an authorization request with redirect_uri="
                  f"{redirect_uri} (HTTP {status}{': ' + said if said else ''})",
                  hint, warning=not required)


def page_text(response: httpx.Response, limit: int = 160) -> str:
    """A short readable excerpt of an error answer: an OAuth error, or an HTML page's message.

    Pages are reduced to their heading and the element marked as the error (role="alert", or
    a class/id with "error" in it, as Keycloak's and most IdPs' pages have); failing that, to
    their whole text.
    """
    try:
        body = json.loads(response.content)
        if isinstance(body, dict) and "error" in body:
            return " - ".join(str(body[k]) for k in ("error", "error_description") if body.get(k))
    except ValueError:
        pass
    page = re.sub(r"(?is)<(script|style|head)\b.*?</\1>", " ", response.text)
    parts = [_text(m.group(2)) for m in (_HEADING.search(page), _ERROR.search(page)) if m]
    text = ": ".join(p for p in dict.fromkeys(parts) if p) or _text(page)
    return text if len(text) <= limit else text[: limit - 1] + "…"


_HEADING = re.compile(r"(?is)<(h1)\b[^>]*>(.*?)</h1>")
_ERROR = re.compile(r"""(?is)<(\w+)\b[^>]*(?:role=["']alert["']|(?:class|id)=["'][^"']*error"""
                    r"""[^"']*["'])[^>]*>(.*?)</\1>""")


def _text(fragment: str) -> str:
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", fragment))).strip()


async def probe_public_url(http: httpx.AsyncClient, settings: Settings) -> Check:
    """What reaches authgate through the proxy, compared with public_url."""
    label = "public_url through the proxy"
    url = f"{settings.public_url}/healthz"
    try:
        response, _ = await _get(http, url)
    except httpx.HTTPError as exc:
        return Check(label, True, f"authgate not running / not reachable at {url} "
                      f"({type(exc).__name__})",
                      "start authgate (and the proxy) and run the doctor again", warning=True)
    if response.is_redirect:
        return Check(label, True, f"{url} redirects to {response.headers.get('location', '?')}",
                      "public_url must be the address browsers end up on", warning=True)
    try:
        seen = response.json()
        scheme, seen_host = str(seen["seen_scheme"]), str(seen["seen_host"])
    except (ValueError, KeyError, TypeError):
        return Check(label, True, f"{url} answered HTTP {response.status_code} without "
                      "authgate's health report; is something else listening there?",
                      warning=True)
    expected = urlsplit(settings.public_url)
    if scheme != expected.scheme:
        return Check(
            label, False,
            f"public_url is {expected.scheme}:// but requests reach authgate as {scheme}://",
            "the proxy must send X-Forwarded-Proto (`authgate deploy nginx` does) and its "
            f"address must be in trusted_proxies (now {', '.join(settings.trusted_proxies)})"
            if expected.scheme == "https" else "set public_url to the https:// address")
    host = urlsplit(f"//{seen_host}").hostname or seen_host
    if host != expected.hostname:
        return Check(label, True, f"requests arrive with Host {seen_host!r}, public_url has "
                      f"{expected.netloc!r}", "make the proxy pass the Host header "
                      "(proxy_set_header Host $host)", warning=True)
    return Check(label, True, f"{url}: authgate sees {scheme}://{seen_host}")


def clock_result(skews: dict[str, float]) -> Check:
    label = "clock skew"
    if not skews:
        return Check(label, True, "no provider answered with a Date header", warning=True)
    parts = ", ".join(f"{name} {skew:+.0f} s" for name, skew in sorted(skews.items()))
    worst = max(abs(s) for s in skews.values())
    if worst > MAX_SKEW:
        return Check(label, True, f"providers' clocks differ from ours by: {parts}",
                      "synchronize this machine's clock (systemd-timesyncd, chrony): ID tokens "
                      "and token expiry depend on it", warning=True)
    return Check(label, True, f"within {MAX_SKEW:.0f} s of the providers ({parts})")
