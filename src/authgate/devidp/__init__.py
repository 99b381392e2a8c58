"""Development identity provider: an OIDC provider and an hh.ru look-alike on one loopback port.

They follow the real providers' documented rules (lifetimes can be shortened) so that the sign-in
gateway and the token vault can be tested over real HTTP with nothing registered anywhere.
"""

from authgate.devidp.app import DevIdpHandles, create_devidp_app, run_devidp
from authgate.devidp.options import DevIdpOptions, HhAccount, HhOptions, OidcOptions, OidcUser

__all__ = [
    "DevIdpHandles",
    "DevIdpOptions",
    "HhAccount",
    "HhOptions",
    "OidcOptions",
    "OidcUser",
    "create_devidp_app",
    "run_devidp",
]
