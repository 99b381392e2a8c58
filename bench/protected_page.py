"""A protected page, side by side on this machine: requests per second, p99 and CPU per request.

Candidates, alternated in every round (the order rotates), each run with ``wrk -t2 -c50``:

- nginx static: the page straight from nginx (the ceiling: ratio 1);
- our site, no auth_request: the generated site with its ``auth_request`` line removed (what the
  proxying to the app costs);
- our site + authgate: the generated site in front of ``authgate serve``, a signed-in user's
  session cookie (nginx's short verify cache on, as generated);
- our site + authgate, no cache: the same with ``verify_cache=False`` (every request asks
  authgate);
- Apache + mod_auth_openidc: the OpenID-certified C module's protected page, signed in at the
  certified ``oidc-provider`` the tests use (only when ``apache2`` and
  ``libapache2-mod-auth-openidc`` are installed).

Printed: the median over the rounds of req/s, its ratio to nginx static of the same round, p99,
and CPU µs per request of the candidate's server processes (nginx, authgate, Apache: from
/proc/PID/stat; steadier than req/s on a shared machine, where another process's load moves the
req/s of all).

Run: .venv/bin/python -m bench.protected_page [--quick]
"""

from __future__ import annotations

import argparse
import re
import shutil
import signal
import statistics
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import httpx

from authgate.config import load_settings
from authgate.deploy.nginx import (
    find_nginx,
    parse_protect,
    render_nginx_site,
    render_standalone_conf,
    site_options_from_settings,
)
from authgate.signin.session_digest import DIGEST_COOKIE, session_digest
from bench.common import as_shipped, cpu_seconds, session_token, wrk
from tests.harness import Child, Gateway, free_port, wait_http
from tests.signin.conftest import OidcProvider, submit_op_page

PAGE = "<!doctype html><title>protected</title><p>" + "A protected page. " * 30 + "</p>\n"
APACHE_MODULES = ("mpm_event", "authn_core", "authz_core", "authz_user", "mime", "dir",
                  "auth_openidc")
APACHE_MODULE_DIR = Path("/usr/lib/apache2/modules")


@dataclass
class Candidate:
    name: str
    url: str
    pids: Callable[[], list[int]]
    headers: dict[str, str] = field(default_factory=dict)
    rps: list[float] = field(default_factory=list)
    ratio: list[float] = field(default_factory=list)
    p99: list[float] = field(default_factory=list)
    cpu_us: list[float] = field(default_factory=list)


class Server(Child):
    """A server binary in the foreground, its process group ended at the end."""

    def __init__(self, name: str, args: list[str], log: Path, probe: str) -> None:
        self.name, self.args, self.log, self.probe = name, args, log, probe

    def start(self) -> Server:
        with self.log.open("ab") as handle:
            proc = self.spawn(self.args, stdout=handle, stderr=subprocess.STDOUT)
        wait_http(self.probe, process=proc, log=self.log, any_answer=True)
        return self


def _nginx(tmp: Path, gateway: Gateway, ports: dict[str, int]) -> Server:
    """One nginx (2 workers): the static page, and the generated site with and without the
    verify cache and without auth_request, each on a port of its own."""
    www = tmp / "www"
    (www / "app").mkdir(parents=True)
    for path in (www / "index.html", www / "app" / "index.html"):
        path.write_text(PAGE)
    settings = load_settings(gateway.config, environ={})
    static = (f"server {{\n    listen 127.0.0.1:{ports['static']};\n    access_log off;\n"
              f"    root {www};\n}}\n")
    sites = [static]
    for key, domain, change in [("site", "127.0.0.1", {}),
                                ("nocache", "nocache.test", {"verify_cache": False}),
                                ("noauth", "noauth.test", {"verify_cache": False})]:
        opts = site_options_from_settings(
            settings, domain=domain, tls="none", listen_host="127.0.0.1",
            listen_port=ports[key], log_dir=str(tmp / "nginx"),
            protect=[parse_protect(f"app=127.0.0.1:{ports['static']}")])
        text = render_nginx_site(replace(opts, **change))  # type: ignore[arg-type]
        if key == "noauth":
            text = re.sub(r"\n\s*auth_request /_authgate_verify;", "", text)
        sites.append(text)
    workdir = tmp / "nginx"
    (workdir / "tmp").mkdir(parents=True)
    conf = render_standalone_conf("\n".join(sites), workdir).replace(
        "worker_processes 1;", "worker_processes 2;").replace(
        "worker_connections 256;", "worker_connections 1024;")
    (workdir / "nginx.conf").write_text(conf)
    binary = find_nginx()
    assert binary is not None, "nginx is needed"
    server = Server("nginx", [binary, "-c", str(workdir / "nginx.conf"), "-p", str(workdir)],
                    workdir / "nginx.stdout", f"http://127.0.0.1:{ports['static']}/")
    server.stop_signal = signal.SIGQUIT
    return server.start()


def apache_available() -> bool:
    return bool(shutil.which("apache2")) and (APACHE_MODULE_DIR / "mod_auth_openidc.so").exists()


def _apache(tmp: Path, port: int, op: OidcProvider) -> Server:
    """Apache + mod_auth_openidc, event MPM sized for the benchmark (see FIELD-NOTES)."""
    root = tmp / "apache"
    docs = root / "htdocs"
    (docs / "protected").mkdir(parents=True)
    (docs / "protected" / "index.html").write_text(PAGE)
    for path in (tmp, root, docs, docs / "protected"):
        path.chmod(0o755)  # served by www-data
    modules = "\n".join(f"LoadModule {m}_module {APACHE_MODULE_DIR}/mod_{m}.so"
                        for m in APACHE_MODULES)
    conf = root / "apache2.conf"
    conf.write_text(f"""{modules}
ServerRoot {root}
ServerName 127.0.0.1
PidFile {root}/apache2.pid
Mutex file:{root}
DefaultRuntimeDir {root}
User www-data
Group www-data
Listen 127.0.0.1:{port}
ErrorLog {root}/error.log
LogLevel warn
# A line per request, as the generated nginx site writes one (mod_log_config is built in).
LogFormat "%h %l %u %t \\"%r\\" %>s %b" common
CustomLog {root}/access.log common
TypesConfig /etc/mime.types
DocumentRoot {docs}
DirectoryIndex index.html
StartServers 2
ServerLimit 2
ThreadsPerChild 64
MaxRequestWorkers 128
MinSpareThreads 1
MaxSpareThreads 128
MaxKeepAliveRequests 0
KeepAlive On
<Directory {docs}>
    Require all granted
</Directory>
OIDCProviderMetadataURL {op.url}/.well-known/openid-configuration
OIDCClientID authgate-test
OIDCClientSecret {op.client_secret}
OIDCRedirectURI http://127.0.0.1:{port}/auth/op/callback
OIDCCryptoPassphrase bench-passphrase-{port}
OIDCScope "openid email profile"
OIDCPKCEMethod S256
OIDCProviderTokenEndpointAuth client_secret_basic
OIDCSessionType server-cache
OIDCCacheType shm
<Location /protected/>
    AuthType openid-connect
    Require valid-user
</Location>
<Location /auth/op/>
    AuthType openid-connect
    Require valid-user
</Location>
""")
    server = Server("apache2", ["apache2", "-f", str(conf), "-DFOREGROUND"],
                    root / "apache2.stdout", f"http://127.0.0.1:{port}/")
    server.stop_signal = signal.SIGTERM
    return server.start()


def _apache_session(port: int) -> str:
    """Sign in once at the certified provider, through its login and consent forms."""
    base = f"http://127.0.0.1:{port}"
    with httpx.Client(follow_redirects=False, timeout=30,
                      headers={"Accept": "text/html"}) as browser:
        response = browser.get(f"{base}/protected/")
        for _ in range(20):
            if response.status_code in (301, 302, 303):
                response = browser.get(str(response.request.url.join(
                    response.headers["location"])))
            elif response.status_code == 200 and response.request.url.path == "/protected/":
                break
            elif response.status_code == 200:
                response = submit_op_page(browser, response, "bench")  # type: ignore[arg-type]
            else:
                raise SystemExit(f"apache sign-in: {response.status_code} {response.text[:300]}")
        else:
            raise SystemExit("apache sign-in did not finish")
        cookie = browser.cookies.get("mod_auth_openidc_session", domain="127.0.0.1")
        assert cookie, browser.cookies
        return f"mod_auth_openidc_session={cookie}"


def run_round(candidates: list[Candidate], first: int, seconds: float) -> None:
    order = candidates[first:] + candidates[:first]
    for c in order:
        before = cpu_seconds(*c.pids())
        result = wrk(c.url, connections=50, seconds=seconds, headers=c.headers)
        used = cpu_seconds(*c.pids()) - before
        c.rps.append(result.requests_per_second)
        c.p99.append(result.p99_ms)
        c.cpu_us.append(used / (result.requests_per_second * seconds) * 1e6)
    static = candidates[0].rps[-1]
    for c in candidates:
        c.ratio.append(c.rps[-1] / static)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 rounds of 3 s")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=10)
    args = parser.parse_args()
    rounds, seconds = (2, 3.0) if args.quick else (args.rounds, args.seconds)
    tmp = Path(tempfile.mkdtemp(prefix="authgate-bench-page-"))
    ports = {k: free_port() for k in ("static", "site", "nocache", "noauth")}
    (tmp / "gw").mkdir()
    gateway = as_shipped(Gateway(tmp / "gw"))
    config = gateway.config.read_text()
    gateway.config.write_text(config.replace(
        f'public_url = "{gateway.url}"', f'public_url = "http://127.0.0.1:{ports["site"]}"', 1))
    children: list[Child] = [gateway]
    try:
        gateway.start()
        token = session_token(gateway.config)
        nginx = _nginx(tmp, gateway, ports)
        children.append(nginx)

        def nginx_pids() -> list[int]:
            return [nginx.pid] if nginx.pid else []

        def with_gateway() -> list[int]:
            return nginx_pids() + ([gateway.pid] if gateway.pid else [])

        # What a signed-in browser sends: the session and its digest (nginx's cache key).
        cookie = {"Cookie": f"authgate_session={token}; {DIGEST_COOKIE}={session_digest(token)}"}
        candidates = [
            Candidate("nginx static", f"http://127.0.0.1:{ports['static']}/app/", nginx_pids),
            Candidate("our site, no auth_request",
                      f"http://127.0.0.1:{ports['noauth']}/app/", nginx_pids, cookie),
            Candidate("our site + authgate", f"http://127.0.0.1:{ports['site']}/app/",
                      with_gateway, cookie),
            Candidate("our site + authgate, no cache",
                      f"http://127.0.0.1:{ports['nocache']}/app/", with_gateway, cookie),
        ]
        if apache_available():
            op = OidcProvider(tmp, gateway_url=f"http://127.0.0.1:{(apache_port := free_port())}")
            children.append(op)
            op.start()
            apache = _apache(tmp, apache_port, op)
            children.append(apache)
            candidates.append(Candidate(
                "Apache + mod_auth_openidc", f"http://127.0.0.1:{apache_port}/protected/",
                lambda: [apache.pid] if apache.pid else [],
                {"Cookie": _apache_session(apache_port)}))
        else:
            print("apache2 + libapache2-mod-auth-openidc not installed: that candidate skipped")
        for c in candidates:  # each answers 200 with the page, and warms up
            page = httpx.get(c.url, headers=c.headers, timeout=30)
            assert page.status_code == 200 and "A protected page." in page.text, (c.name, page)
            wrk(c.url, connections=50, seconds=1, headers=c.headers)
        for i in range(rounds):
            run_round(candidates, i % len(candidates), seconds)
            print(f"round {i + 1}/{rounds}: " + ", ".join(
                f"{c.name} {c.rps[-1]:,.0f}" for c in candidates), flush=True)
        report(candidates, rounds, seconds)
    finally:
        for child in reversed(children):
            child.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def report(candidates: list[Candidate], rounds: int, seconds: float) -> None:
    med = statistics.median
    print(f"\nwrk -t2 -c50 -d{seconds:g}s, {rounds} rounds alternated; medians over rounds")
    print(f"{'candidate':32} {'req/s':>9} {'÷ static':>9} {'p99 ms':>8} {'CPU µs/req':>11}")
    for c in candidates:
        print(f"{c.name:32} {med(c.rps):9,.0f} {med(c.ratio):9.3f} {med(c.p99):8.2f} "
              f"{med(c.cpu_us):11.1f}")
    ours = candidates[2]
    apache = next((c for c in candidates if c.name.startswith("Apache")), None)
    if apache is not None:
        per_round = [o / a for o, a in zip(ours.rps, apache.rps, strict=True)]
        print(f"\nour site + authgate ÷ Apache + mod_auth_openidc: req/s {med(per_round):.2f} "
              f"(per round: {', '.join(f'{r:.2f}' for r in per_round)}), "
              f"CPU per request {med(ours.cpu_us) / med(apache.cpu_us):.2f}, "
              f"p99 {med(ours.p99):.2f} vs {med(apache.p99):.2f} ms")


if __name__ == "__main__":
    main()
