"""OpenID Connect Core 1.0 — the relying party's side of the authorization-code flow.

Framework-free: the caller keeps ``state``, ``nonce`` and the PKCE verifier (bound to the browser)
and passes the expected values back in, as panva/openid-client does. HTTP goes through the injected
``httpx.AsyncClient``; time comes from the injected ``Clock``; every JOSE operation is joserfc's.

Error details never contain a token, a code, a state or a nonce: they are shown to people.
"""

from __future__ import annotations

import hmac
import warnings
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote_plus

import httpx
from joserfc import jws, jwt
from joserfc.errors import BadSignatureError, InvalidKeyIdError, JoseError, SecurityWarning
from joserfc.jws import JWSRegistry

from authgate.clock import Clock
from authgate.errors import FlowError, IdTokenError, InvalidRequest, ProviderError
from authgate.protocol.http_json import get_json_object
from authgate.protocol.oidc_discovery import ProviderMetadata
from authgate.protocol.oidc_jwks import JwksCache
from authgate.protocol.rfc6749_oauth2 import TokenResponse, authorization_url, request_token

# Asymmetric algorithms only. HS* would make the client secret a verification key (and invite
# the classic "RSA public key used as HMAC secret" confusion); "none" is no signature at all.
# EdDSA is listed because OPs still advertise it; Ed25519 is its RFC 9864 fully-specified name.
ASYMMETRIC_ALGS: frozenset[str] = frozenset({
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512",
    "EdDSA", "Ed25519",
})

# Parameters the authentication request sets itself; ``extra`` may not override them.
_RESERVED_PARAMS = frozenset({
    "response_type", "client_id", "redirect_uri", "state", "scope", "nonce",
    "code_challenge", "code_challenge_method",
})

# RFC 6749 §4.1.2.1 and OIDC Core §3.1.2.6 error codes, with what they mean to a person. Only
# these are passed on as our error code: the value comes from a URL anyone can craft.
_AUTHORIZATION_ERRORS: Mapping[str, str] = {
    "access_denied": "sign-in was cancelled or refused at the provider",
    "login_required": "the provider requires you to sign in",
    "interaction_required": "the provider needs you to interact with it",
    "consent_required": "the provider needs your consent",
    "account_selection_required": "the provider needs you to choose an account",
    "invalid_request": "the provider refused the sign-in request",
    "unauthorized_client": "this application is not allowed to sign in at the provider",
    "unsupported_response_type": "the provider does not support this sign-in method",
    "invalid_scope": "the provider refused the requested scopes",
    "server_error": "the provider had an internal error",
    "temporarily_unavailable": "the provider is temporarily unavailable",
}


def _same(a: str, b: str) -> bool:
    """Constant-time string compare (``hmac.compare_digest`` rejects non-ASCII ``str``)."""
    return hmac.compare_digest(a.encode(), b.encode())


# --- authentication request (Core §3.1.2.1) -------------------------------------------------

def build_authentication_request(
    metadata: ProviderMetadata,
    *,
    client_id: str,
    redirect_uri: str,
    scopes: Sequence[str],
    state: str,
    nonce: str,
    code_challenge: str,
    extra: Mapping[str, str] | None = None,
) -> str:
    """The URL to send the browser to. PKCE is always S256."""
    if "openid" not in scopes:
        raise InvalidRequest("an OpenID Connect sign-in needs the 'openid' scope")
    methods = metadata.code_challenge_methods_supported
    # Not advertising PKCE at all is common and harmless (the parameters are ignored); advertising
    # only weaker methods means S256 would be refused, so fail here with a clear reason.
    if methods and "S256" not in methods:
        raise ProviderError(f"the provider does not support PKCE S256 (it offers "
                            f"{', '.join(methods)})", transient=False, error="pkce_unsupported")
    clash = _RESERVED_PARAMS.intersection(extra or {})
    if clash:
        raise InvalidRequest(f"extra authorization parameters may not override "
                             f"{', '.join(sorted(clash))}")
    return authorization_url(
        metadata.authorization_endpoint, client_id=client_id, redirect_uri=redirect_uri,
        state=state, scopes=scopes, code_challenge=code_challenge,
        extra={"nonce": nonce, **(extra or {})})


# --- authorization response (Core §3.1.2.5/6, RFC 9207) ------------------------------------

def parse_authorization_response(
    params: Mapping[str, str], *, expected_state: str | None, metadata: ProviderMetadata,
) -> str:
    """Check the callback's query and return the authorization code.

    ``state`` is checked first, then ``iss``, then ``error``: an error answer also carries both,
    and an unbound or mix-up answer must not be reported as if our provider had said it.
    ``expected_state=None`` says the caller has already matched the state to this browser's
    flow (authgate's flow store finds the flow by the state itself); a missing state is refused
    either way.
    """
    state = params.get("state")
    if not state:
        raise FlowError("the provider's answer has no state", error="invalid_state")
    if expected_state is not None and not _same(state, expected_state):
        raise FlowError("the provider's answer does not belong to this sign-in (state mismatch)",
                        error="invalid_state")
    iss = params.get("iss")
    if iss is None and metadata.authorization_response_iss_parameter_supported:
        raise FlowError("the provider's answer has no iss parameter, which it promises (RFC 9207)",
                        error="invalid_issuer")
    if iss is not None and iss != metadata.issuer:
        raise FlowError("the answer comes from another issuer than the one this sign-in started "
                        "at (RFC 9207)", error="invalid_issuer")
    error = params.get("error")
    if error is not None:
        raise FlowError(_describe_authorization_error(error, params.get("error_description")),
                        error=error if error in _AUTHORIZATION_ERRORS else "authorization_failed")
    code = params.get("code")
    if not code:
        raise FlowError("the provider's answer has no authorization code", error="missing_code")
    return code


def _describe_authorization_error(error: str, description: str | None) -> str:
    text = _AUTHORIZATION_ERRORS.get(error, "the provider refused the sign-in")
    if description:
        # The provider's own words help, but they arrive through a URL: keep them short and
        # printable so they cannot flood a log line or a page.
        words = "".join(ch for ch in description if ch.isprintable())[:200]
        text = f"{text}: {words}"
    return text


# --- token request (Core §3.1.3) ------------------------------------------------------------

async def exchange_code(
    http: httpx.AsyncClient,
    metadata: ProviderMetadata,
    *,
    client_id: str,
    client_secret: str,
    code: str,
    redirect_uri: str,
    code_verifier: str,
) -> TokenResponse:
    """Redeem the code. The ID token in the answer is *not* validated here: call
    ``validate_id_token`` next (it needs the nonce and the JWKS)."""
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri,
            "code_verifier": code_verifier}
    auth: httpx.BasicAuth | None = None
    methods = metadata.token_endpoint_auth_methods_supported
    # Absent means client_secret_basic (Discovery §3), which every OP must support.
    if not methods or "client_secret_basic" in methods:
        # RFC 6749 §2.3.1: id and secret are form-urlencoded before Basic encoding.
        auth = httpx.BasicAuth(quote_plus(client_id), quote_plus(client_secret))
    elif "client_secret_post" in methods:
        form |= {"client_id": client_id, "client_secret": client_secret}
    else:
        raise ProviderError(f"the provider supports none of client_secret_basic, "
                            f"client_secret_post (it offers {', '.join(methods)})",
                            transient=False, error="client_auth_unsupported")
    tokens = await request_token(http, metadata.token_endpoint, form, auth=auth)
    if not tokens.id_token:
        raise IdTokenError("the provider's token answer has no ID token", error="id_token_missing")
    if tokens.token_type.lower() != "bearer":
        # Core §3.1.3.3: anything else (e.g. DPoP) is a token we would not know how to use.
        raise ProviderError(f"the provider issued a {tokens.token_type!r} token, not Bearer",
                            transient=False, error="provider_bad_response")
    return tokens


# --- ID token validation (Core §3.1.3.7) ----------------------------------------------------

def allowed_id_token_algs(metadata: ProviderMetadata) -> frozenset[str]:
    return ASYMMETRIC_ALGS.intersection(metadata.id_token_signing_alg_values_supported)


async def validate_id_token(
    id_token: str,
    *,
    metadata: ProviderMetadata,
    jwks: JwksCache,
    client_id: str,
    nonce: str,
    clock: Clock,
    leeway: int = 60,
    max_age_iat: int | None = None,
) -> dict[str, Any]:
    """Verify the signature and the claims; return the claims.

    ``max_age_iat`` (seconds), when given, also refuses a token issued longer ago than that.
    """
    claims = await _verified_claims(id_token, metadata=metadata, jwks=jwks)
    _check_audience(claims, client_id)
    if claims.get("iss") != metadata.issuer:
        raise IdTokenError("the ID token comes from another issuer", error="id_token_iss")
    now = clock.now().timestamp()
    exp = _number(claims.get("exp"))
    if exp is None:
        raise IdTokenError("the ID token has no valid exp", error="id_token_expired")
    if now > exp + leeway:
        raise IdTokenError("the ID token has expired", error="id_token_expired")
    iat = _number(claims.get("iat"))
    if iat is None:
        raise IdTokenError("the ID token has no valid iat", error="id_token_iat")
    if iat > now + leeway:
        raise IdTokenError("the ID token is issued in the future (check the clocks)",
                           error="id_token_iat")
    if max_age_iat is not None and now - iat > max_age_iat + leeway:
        raise IdTokenError("the ID token was issued too long ago", error="id_token_iat")
    # nbf is optional in an ID token; when present it must be a time that has come.
    nbf = _number(claims.get("nbf")) if "nbf" in claims else now
    if nbf is None or nbf > now + leeway:
        raise IdTokenError("the ID token is not valid yet", error="id_token_nbf")
    token_nonce = claims.get("nonce")
    if not isinstance(token_nonce, str) or not _same(token_nonce, nonce):
        raise IdTokenError("the ID token was not issued for this sign-in (nonce mismatch)",
                           error="id_token_nonce")
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub:
        raise IdTokenError("the ID token has no subject", error="id_token_sub")
    return claims


async def _verified_claims(
    id_token: str, *, metadata: ProviderMetadata, jwks: JwksCache,
) -> dict[str, Any]:
    try:
        # Parsed, not verified: the header only tells which algorithm and key to *try*.
        header = jws.extract_compact(id_token.encode()).headers()
    except (JoseError, ValueError, UnicodeError):
        raise IdTokenError("the ID token is not a signed JWT", error="id_token_malformed") from None
    alg = header.get("alg")
    # Refused before any key lookup, so "none"/HS* tokens cannot even trigger a JWKS fetch.
    if not isinstance(alg, str) or alg not in allowed_id_token_algs(metadata):
        raise IdTokenError(f"the ID token's algorithm {str(alg)[:20]!r} is not allowed "
                           f"(the issuer advertises "
                           f"{', '.join(metadata.id_token_signing_alg_values_supported)})",
                           error="id_token_alg")
    kid = header.get("kid")
    if kid is not None and not isinstance(kid, str):
        raise IdTokenError("the ID token's kid is not a string", error="id_token_malformed")
    keys = await jwks.key_set(metadata.jwks_uri, kid=kid)
    # Non-strict headers: OPs add unregistered header parameters; "crit" is still enforced.
    registry = JWSRegistry(algorithms=[alg], strict_check_header=False)
    try:
        with warnings.catch_warnings():
            # joserfc flags "EdDSA" as deprecated (RFC 9864); it is allowed here on purpose,
            # because the issuer advertises it.
            warnings.simplefilter("ignore", SecurityWarning)
            token = jwt.decode(id_token, keys, registry=registry)
    except InvalidKeyIdError:
        raise IdTokenError("the ID token is signed with a key the issuer does not publish",
                           error="id_token_kid") from None
    except BadSignatureError:
        raise IdTokenError("the ID token's signature is invalid",
                           error="id_token_signature") from None
    except (JoseError, ValueError) as exc:
        # Key of the wrong type for the algorithm, undecodable payload, unknown "crit", ...
        raise IdTokenError(f"the ID token cannot be verified ({type(exc).__name__})",
                           error="id_token_signature") from None
    return token.claims


def _check_audience(claims: Mapping[str, Any], client_id: str) -> None:
    aud = claims.get("aud")
    audiences = [aud] if isinstance(aud, str) else aud
    if not isinstance(audiences, list) or not all(isinstance(a, str) for a in audiences):
        raise IdTokenError("the ID token has no valid aud", error="id_token_aud")
    if client_id not in audiences:
        raise IdTokenError("the ID token was issued for another client", error="id_token_aud")
    azp = claims.get("azp")
    # Core §3.1.3.7 (4, 5). ZITADEL sends aud = [client_id, project_id] with azp = client_id.
    if len(audiences) > 1 and azp is None:
        raise IdTokenError("the ID token has several audiences but no azp", error="id_token_azp")
    if azp is not None and azp != client_id:
        raise IdTokenError("the ID token was authorized for another client (azp)",
                           error="id_token_azp")


def _number(value: object) -> float | None:
    # bool is an int in Python; `"exp": true` is not a time.
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None


# --- userinfo (Core §5.3) -------------------------------------------------------------------

async def fetch_userinfo(
    http: httpx.AsyncClient, metadata: ProviderMetadata, *, access_token: str, expected_sub: str,
) -> dict[str, Any]:
    """The userinfo claims (JSON answers only), checked to be about the ID token's subject."""
    if metadata.userinfo_endpoint is None:
        raise ProviderError("the provider has no userinfo endpoint", transient=False,
                            error="userinfo_unsupported")
    # A signed or encrypted (application/jwt) answer is not supported: it fails as "not JSON".
    claims = await get_json_object(
        http, metadata.userinfo_endpoint, what="userinfo",
        headers={"Authorization": f"Bearer {access_token}", "Accept": "application/json"})
    sub = claims.get("sub")
    # Core §5.3.2: a substituted userinfo answer must not be attributed to this user.
    if not isinstance(sub, str) or not _same(sub, expected_sub):
        raise IdTokenError("the provider's userinfo is about another user than the ID token",
                           error="userinfo_sub_mismatch")
    return claims

