"""What the deploy renderers share: one Jinja environment and checks on values put into configs.

Every value that ends up in an nginx, systemd or Dockerfile text is checked against a narrow
pattern first. Those formats have no quoting that survives every context (a ``;`` ends an nginx
directive, a newline starts a new systemd setting), so refusing odd values is the only safe way.
"""

from __future__ import annotations

import re
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined

from authgate.errors import AuthgateError


class DeployError(AuthgateError):
    """A value given to a deploy renderer cannot be put safely into the generated file."""

    error = "deploy_invalid"


# Not HTML: nginx, systemd and Docker texts, whose values are checked by the functions below.
_env = Environment(
    loader=PackageLoader("authgate.deploy", "templates"),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
    autoescape=False,  # noqa: S701
)


def render(template: str, **context: Any) -> str:
    return _env.get_template(template).render(**context)


_HOSTNAME = re.compile(r"^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)*"
                       r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")
_IPV6 = re.compile(r"^\[[0-9A-Fa-f:.]+\]$")
# Absolute paths made of ordinary characters: no spaces, quotes, ';', '{', '}', '$' or '#'.
_PATH = re.compile(r"^/[A-Za-z0-9._/@+-]*$")
_URL_PATH = re.compile(r"^/[A-Za-z0-9._~/@+-]*$")


def check_hostname(value: str, what: str) -> str:
    if not (_HOSTNAME.match(value) or _IPV6.match(value)):
        raise DeployError(f"{what}: {value!r} is not a host name")
    return value


def check_port(value: int, what: str) -> int:
    if not 0 < value < 65536:
        raise DeployError(f"{what}: {value} is not a TCP port")
    return value


def check_path(value: str, what: str) -> str:
    if not _PATH.match(value) or "/../" in value + "/":
        raise DeployError(f"{what}: {value!r} must be an absolute path of plain characters")
    return value


def check_url_path(value: str, what: str) -> str:
    if not _URL_PATH.match(value) or value.startswith("//"):
        raise DeployError(f"{what}: {value!r} must be a URL path of plain characters")
    return value


def slug(value: str) -> str:
    """A name usable in nginx zone, upstream and variable names."""
    return re.sub(r"[^a-z0-9]+", "_", value.lower()).strip("_") or "site"
