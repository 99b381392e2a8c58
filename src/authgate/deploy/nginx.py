"""An nginx site for authgate: the gateway's routes plus apps protected with ``auth_request``.

Layout (one domain): authgate answers every path except the protected apps, each of which lives
under ``/NAME/``. Keeping the apps on authgate's domain means the session cookie (host-only,
SameSite=Lax) reaches nginx for them without any cookie-domain setup, and ``/login?next=/NAME/``
stays a same-origin path, the only kind authgate follows.

``render_nginx_site`` gives the text to include in nginx's ``http {}`` block;
``render_standalone_conf`` wraps it into a complete configuration whose pid, logs and temp files
live in one directory, for ``nginx -t`` and for tests.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
import os
import re
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, get_args
from urllib.parse import urlsplit

from authgate.config import Settings
from authgate.deploy.templating import (
    DeployError,
    check_hostname,
    check_path,
    check_port,
    check_url_path,
    render,
    slug,
)
from authgate.signin.session_digest import DIGEST_COOKIE

TlsMode = Literal["terminated-upstream", "certbot", "none"]
TLS_MODES: tuple[str, ...] = get_args(TlsMode)

# First path segments that belong to authgate; a protected app cannot take them.
RESERVED_NAMES = frozenset({
    "login", "logout", "auth", "api", "connect", "static", "console", "healthz", "readyz",
    "metrics", "well-known", "favicon.ico", "robots.txt",
})
_APP_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
_ROLE = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
_COOKIE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_COOKIE_STRIP_ROUNDS = 8
# The cookies authgate sets beside the session's: its digest (signin.session_digest), CSRF
# (web.csrf; __Host- under https), the provider flow's binding (web.flow_binding), the language
# (web.i18n) and the account just connected (web.connect). Named here, not imported: the deploy
# code does not load the web app; a test holds this list equal to every set_cookie call's name.
GATEWAY_COOKIES = (DIGEST_COOKIE, "authgate_csrf", "authgate_flow", "authgate_lang",
                    "authgate_connected")
_MAX_VARIABLE_SLUG = 13
_RATE = re.compile(r"^[1-9][0-9]*r/[sm]$")
_DEFAULT_LOG_DIR = "/var/log/nginx"
# Where Debian's libnginx-mod-http-js (and nginx.org's packages) put the njs module.
_JS_MODULES = ("/usr/lib/nginx/modules/ngx_http_js_module.so",
               "/usr/share/nginx/modules/ngx_http_js_module.so",
               "/etc/nginx/modules/ngx_http_js_module.so")


@dataclass(frozen=True)
class ProtectedApp:
    """An app served under ``/NAME/`` once authgate says the browser has a session.

    ``upstream`` is ``host:port`` or ``http(s)://host:port[/path]``; ``role``, when set, is
    required (authgate's ``/auth/verify?role=`` answers 403 otherwise).
    """

    name: str
    upstream: str
    role: str | None = None


@dataclass(frozen=True, kw_only=True)
class NginxSiteOptions:
    domain: str
    tls: TlsMode = "terminated-upstream"
    # authgate's own listen address (settings.listen); 0.0.0.0 / :: become loopback.
    authgate_upstream: str = "127.0.0.1:8000"
    # Defaults: 80 (terminated-upstream, none) or 443 (certbot). Tests pass a loopback port.
    listen_port: int | None = None
    # Default: every interface, except behind a terminator that is on this machine (all of
    # trusted_proxies loopback): then loopback only, where the terminator reaches nginx.
    listen_host: str | None = None
    # terminated-upstream: the terminator's addresses (or networks), the only peers whose
    # X-Forwarded-For nginx believes.
    trusted_proxies: Sequence[str] = ("127.0.0.1", "::1")
    # certbot only: the plain-HTTP port that serves ACME challenges and redirects to HTTPS.
    http_port: int = 80
    ipv6: bool = False
    protect: Sequence[ProtectedApp | tuple[str, str]] = ()
    log_dir: str = _DEFAULT_LOG_DIR
    # Exact paths of providers' custom callback_path (the /auth/*/callback forms are built in).
    callback_paths: Sequence[str] = ()
    cookie_name: str = "authgate_session"
    # Remove authgate's cookies (session, digest, CSRF, flow, language, connected) from what apps
    # behind it receive.
    strip_session_cookie: bool = True
    ssl_certificate: str | None = None
    ssl_certificate_key: str | None = None
    acme_root: str = "/var/www/letsencrypt"
    login_rate: str = "2r/s"
    login_burst: int = 10
    callback_rate: str = "5r/s"
    callback_burst: int = 20
    # auth_request's short cache (needs nginx's njs module, libnginx-mod-http-js, and its
    # secure_link module, in Debian's and nginx.org's builds): a passing
    # verdict kept to the end of the current second under the gateway's verdict epoch (the
    # file authgate writes, settings.verify_epoch_path) and the session cookie's digest (the
    # authgate_digest cookie, signin/session_digest.py), checked by nginx's secure_link.
    verify_cache: bool = True
    verify_epoch_file: str = "/var/lib/authgate/verify-epoch"
    # Where nginx keeps it (a directory authgate-SLUG-verify inside). Default /var/cache/nginx,
    # or log_dir when that is not the default one (tests and `--check` keep both in a work dir).
    cache_dir: str | None = None


@dataclass(frozen=True)
class _App:
    name: str
    role: str | None
    upstream_name: str
    upstream_display: str
    hostport: str
    host: str
    tls: bool
    proxy_pass: str
    verify_location: str


@dataclass(frozen=True)
class _Verify:
    location: str
    query: str


@dataclass(frozen=True)
class _Site:
    """Everything the template needs, already validated."""

    domain: str
    slug: str
    # The prefix of the site's nginx variables (see _variable_prefix).
    var: str
    tls: str
    proto: str
    xff: str
    client_var: str
    limit_key: str
    real_ip_from: list[str]
    listen: list[str]
    http_listen: list[str]
    https_port_suffix: str
    http_port: int
    authgate_upstream: str
    authgate_upstream_name: str
    apps: list[_App]
    verify_locations: list[_Verify]
    callback_paths: list[str]
    log_dir: str
    cookie_name: str
    cookie_name_re: str
    digest_cookie: str
    # A regex group of every cookie authgate sets, stripped from what protected apps receive.
    cookie_names: str
    cookie_strip_rounds: int
    strip_cookie: bool
    ssl_certificate: str
    ssl_certificate_key: str
    acme_root: str
    login_rate: str
    login_burst: int
    callback_rate: str
    callback_burst: int
    verify_cache: bool
    verify_epoch_file: str
    verify_js: str
    cache_dir: str


# The njs function that reads the verify cache's epoch, shipped with the package.
VERIFY_JS = Path(__file__).with_name("templates") / "authgate_verify_key.js"


def render_nginx_site(opts: NginxSiteOptions) -> str:
    """The site for ``opts.domain``, to be included inside nginx's ``http {}`` block."""
    return render("nginx_site.conf.j2", s=_site(opts))


def site_options_from_settings(settings: Settings, *, domain: str, **overrides: object
                               ) -> NginxSiteOptions:
    """Options with authgate's address, cookie name and custom callback paths filled in."""
    callback_paths = sorted({p.callback_path for p in settings.providers.values()
                             if p.callback_path})
    values: dict[str, object] = {
        "domain": domain,
        "authgate_upstream": loopback_upstream(settings.listen_host, settings.listen_port),
        "callback_paths": callback_paths,
        "cookie_name": settings.session.cookie_name,
        "verify_epoch_file": str(settings.verify_epoch_path.resolve()),
    }
    values.update(overrides)
    return NginxSiteOptions(**values)  # type: ignore[arg-type]


def loopback_upstream(host: str, port: int) -> str:
    """Where nginx reaches a server listening on ``host``: a wildcard means loopback."""
    if host in ("", "0.0.0.0", "*"):  # noqa: S104 - we are reading the setting, not binding
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def parse_protect(spec: str) -> ProtectedApp:
    """``NAME=UPSTREAM`` or ``NAME:ROLE=UPSTREAM`` (the command line's ``--protect``)."""
    left, sep, upstream = spec.partition("=")
    if not sep or not left or not upstream:
        raise DeployError(f"--protect {spec!r}: expected NAME=UPSTREAM or NAME:ROLE=UPSTREAM")
    name, _, role = left.partition(":")
    return ProtectedApp(name=name, upstream=upstream, role=role or None)


# -- validation and derived values ------------------------------------------------------------

def _site(opts: NginxSiteOptions) -> _Site:
    domain = check_hostname(opts.domain, "domain")
    if opts.tls not in TLS_MODES:
        raise DeployError(f"tls: {opts.tls!r} is not one of {', '.join(TLS_MODES)}")
    site_slug = slug(domain)
    edge = opts.tls != "terminated-upstream"
    port = check_port(opts.listen_port or (443 if opts.tls == "certbot" else 80), "listen port")
    http_port = check_port(opts.http_port, "http port")
    host = check_hostname(opts.listen_host, "listen host") if opts.listen_host else None
    real_ip_from = [] if edge else _networks(opts.trusted_proxies)
    if host is None and real_ip_from and all(
            ipaddress.ip_network(n).is_loopback for n in real_ip_from):
        host = "127.0.0.1"
    ssl = " ssl http2" if opts.tls == "certbot" else ""
    log_dir = check_path(opts.log_dir.rstrip("/") or "/", "log dir")
    cache_dir = opts.cache_dir or ("/var/cache/nginx" if log_dir == _DEFAULT_LOG_DIR else log_dir)
    if not _COOKIE.match(opts.cookie_name):
        raise DeployError(f"cookie name {opts.cookie_name!r} has unusual characters")
    if opts.verify_cache and ("-" in opts.cookie_name or any(
            opts.cookie_name.lower() in f"__host-{other}" for other in GATEWAY_COOKIES)):
        # nginx's cache reads the session cookie as $cookie_NAME (a variable name: no "-"), and
        # only when the name is once in the Cookie header: inside another cookie's name, never.
        raise DeployError(f"cookie name {opts.cookie_name!r}: the verify cache needs one without "
                          f"'-' and not part of (__Host-){', '.join(GATEWAY_COOKIES)}; choose "
                          "another, or --no-verify-cache")
    for what, rate in (("login rate", opts.login_rate), ("callback rate", opts.callback_rate)):
        if not _RATE.match(rate):
            raise DeployError(f"{what}: {rate!r} is not like 2r/s or 30r/m")
    cert = opts.ssl_certificate or f"/etc/letsencrypt/live/{domain}/fullchain.pem"
    key = opts.ssl_certificate_key or f"/etc/letsencrypt/live/{domain}/privkey.pem"
    authgate_hostport = _hostport(opts.authgate_upstream, "authgate upstream")
    apps = _apps(opts.protect, site_slug)
    verify = [_Verify("/_authgate_verify", "")]
    verify += [_Verify(a.verify_location, f"?role={a.role}") for a in apps if a.role]
    return _Site(
        domain=domain,
        slug=site_slug,
        var=_variable_prefix(domain, site_slug),
        tls=opts.tls,
        # Behind a terminator nginx only ever sees plain HTTP, but browsers used HTTPS.
        proto="$scheme" if edge else "https",
        # The client's own X-Forwarded-For is never passed on. At the edge the client is the
        # peer; behind the terminator nginx's realip module takes it from X-Forwarded-For, but
        # only when the peer is one of trusted_proxies (set_real_ip_from): either way it is
        # $remote_addr, the one address authgate (trusting nginx on loopback) is told.
        xff="$remote_addr",
        client_var="$remote_addr",
        limit_key="$binary_remote_addr",
        real_ip_from=real_ip_from,
        listen=_listen(host, port, ssl, opts.ipv6),
        http_listen=_listen(host, http_port, "", opts.ipv6),
        https_port_suffix="" if port == 443 else f":{port}",
        http_port=http_port,
        authgate_upstream=authgate_hostport,
        authgate_upstream_name=f"authgate_{site_slug}_gateway",
        apps=apps,
        verify_locations=verify,
        callback_paths=[_callback_path(p) for p in opts.callback_paths],
        log_dir=log_dir,
        cookie_name=opts.cookie_name,
        cookie_name_re=re.escape(opts.cookie_name),
        digest_cookie=DIGEST_COOKIE,
        cookie_names=(f"(?:{re.escape(opts.cookie_name)}"
                      f"|(?:__Host-)?(?:{'|'.join(GATEWAY_COOKIES)}))"),
        cookie_strip_rounds=_COOKIE_STRIP_ROUNDS,
        strip_cookie=opts.strip_session_cookie,
        ssl_certificate=check_path(cert, "ssl certificate"),
        ssl_certificate_key=check_path(key, "ssl certificate key"),
        acme_root=check_path(opts.acme_root, "acme root"),
        login_rate=opts.login_rate,
        login_burst=max(0, opts.login_burst),
        callback_rate=opts.callback_rate,
        callback_burst=max(0, opts.callback_burst),
        verify_cache=opts.verify_cache,
        verify_epoch_file=check_path(opts.verify_epoch_file, "verify epoch file"),
        verify_js=check_path(str(VERIFY_JS), "njs module"),
        cache_dir=check_path(cache_dir.rstrip("/") or "/", "cache dir"),
    )


def _variable_prefix(domain: str, site_slug: str) -> str:
    """``ag_SLUG``, a long slug cut and told apart by a hash of the domain. nginx keeps every
    variable's name in one hash whose buckets (64 bytes, unless nginx.conf says otherwise; a
    site cannot) fit a name of at most 46 characters, and two long names rarely share one: long
    names failed ``nginx -t`` or made it warn ("could not build optimal variables_hash"). Short
    ones (at most 28 characters here) let it build the hash as it should. The hash has 32 bits:
    two sites in one nginx with the same names would silently share their maps."""
    if len(site_slug) > _MAX_VARIABLE_SLUG:
        site_slug = site_slug[:4].rstrip("_") + "_" + hashlib.sha256(
            domain.encode()).hexdigest()[:8]
    return f"ag_{site_slug}"


def _networks(values: Sequence[str]) -> list[str]:
    if not values:
        raise DeployError("trusted proxy: give the TLS terminator's address (--trusted-proxy)")
    out = []
    for value in values:
        try:
            out.append(str(ipaddress.ip_network(value, strict=False)))
        except ValueError:
            raise DeployError(f"trusted proxy: {value!r} is not an IP address or network"
                              ) from None
    return out


def _listen(host: str | None, port: int, suffix: str, ipv6: bool) -> list[str]:
    if host:
        return [f"{host}:{port}{suffix}"]
    return [f"{port}{suffix}"] + ([f"[::]:{port}{suffix}"] if ipv6 else [])


def _callback_path(path: str) -> str:
    path = check_url_path(path, "callback path")
    if path == "/":
        raise DeployError("callback path: / would send every request to the callback handler")
    return path


def _hostport(value: str, what: str) -> str:
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit():
        raise DeployError(f"{what}: {value!r} is not host:port")
    check_hostname(host, what)
    check_port(int(port), what)
    return value


def _apps(protect: Sequence[ProtectedApp | tuple[str, str]], site_slug: str) -> list[_App]:
    apps: list[_App] = []
    seen: set[str] = set()
    for item in protect:
        app = item if isinstance(item, ProtectedApp) else ProtectedApp(*item)
        if not _APP_NAME.match(app.name) or app.name in RESERVED_NAMES:
            raise DeployError(
                f"protected app {app.name!r}: use a-z, 0-9, - and _, and not one of authgate's "
                f"paths ({', '.join(sorted(RESERVED_NAMES))})")
        if app.name in seen:
            raise DeployError(f"protected app {app.name!r} is given twice")
        seen.add(app.name)
        if app.role is not None and not _ROLE.match(app.role):
            raise DeployError(f"protected app {app.name!r}: role {app.role!r} is not a plain name")
        raw = app.upstream if "://" in app.upstream else f"http://{app.upstream}"
        parts = urlsplit(raw)
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.query \
                or parts.fragment or parts.username:
            raise DeployError(f"protected app {app.name!r}: upstream {app.upstream!r} is not "
                              "host:port or http(s)://host:port[/path]")
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:
            raise DeployError(f"protected app {app.name!r}: bad port in {app.upstream!r}") from None
        host = parts.hostname
        check_hostname(f"[{host}]" if ":" in host else host, f"protected app {app.name!r}")
        path = check_url_path(parts.path, f"protected app {app.name!r}") if parts.path else ""
        name = f"authgate_{site_slug}_app_{slug(app.name)}"
        hostport = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        apps.append(_App(
            name=app.name, role=app.role, upstream_name=name, upstream_display=raw,
            hostport=hostport, host=host, tls=parts.scheme == "https",
            proxy_pass=f"{parts.scheme}://{name}{path}",
            verify_location=(f"/_authgate_verify/{app.name}" if app.role
                             else "/_authgate_verify"),
        ))
    return apps


# -- a complete configuration for nginx -t and tests ------------------------------------------

def render_standalone_conf(site: str, workdir: Path) -> str:
    """A whole nginx.conf around ``site``: pid, logs and temp files inside ``workdir``.

    Run it with ``nginx -c FILE -p WORKDIR`` (it sets ``daemon off``, so nginx stays in the
    foreground and a test can stop it).
    """
    check_path(str(workdir), "work dir")
    js_module = None
    if "js_import " in site:
        js_module = next((p for p in _JS_MODULES if Path(p).exists()), None)
        if js_module is None:
            raise DeployError("the verify cache needs nginx's njs module (Debian: apt-get "
                              "install libnginx-mod-http-js), or a site without it "
                              "(--no-verify-cache)")
    return render("nginx_standalone.conf.j2", site=site, workdir=str(workdir),
                  js_module=js_module,
                  # As root, nginx's workers would switch to "nobody", which cannot enter a
                  # private temp directory; this configuration is never a production one.
                  as_root=hasattr(os, "geteuid") and os.geteuid() == 0)


def write_standalone_conf(site: str, workdir: Path) -> Path:
    workdir.mkdir(parents=True, exist_ok=True)
    conf = workdir / "nginx.conf"
    conf.write_text(render_standalone_conf(site, workdir), encoding="utf-8")
    return conf


def find_nginx() -> str | None:
    return shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if Path(p).exists()), None)


@dataclass(frozen=True)
class NginxTestResult:
    ok: bool
    output: str


def nginx_test(conf: Path, prefix: Path, nginx: str | None = None) -> NginxTestResult:
    """``nginx -t`` on a standalone configuration."""
    binary = nginx or find_nginx()
    if binary is None:
        return NginxTestResult(False, "nginx is not installed")
    proc = subprocess.run([binary, "-t", "-c", str(conf), "-p", str(prefix)],
                          capture_output=True, text=True, timeout=30, check=False)
    return NginxTestResult(proc.returncode == 0, (proc.stdout + proc.stderr).strip())


def write_self_signed_cert(directory: Path, domain: str) -> tuple[Path, Path]:
    """A throwaway certificate, so ``nginx -t`` can check a certbot site before certbot ran."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, domain)])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(domain)]), critical=False)
            .sign(key, hashes.SHA256()))
    directory.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = directory / "fullchain.pem", directory / "privkey.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.touch(mode=0o600)
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


__all__ = [
    "TLS_MODES",
    "NginxSiteOptions",
    "NginxTestResult",
    "ProtectedApp",
    "TlsMode",
    "find_nginx",
    "loopback_upstream",
    "nginx_test",
    "parse_protect",
    "render_nginx_site",
    "render_standalone_conf",
    "site_options_from_settings",
    "write_self_signed_cert",
    "write_standalone_conf",
]
