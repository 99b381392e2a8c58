"""``authgate deploy nginx|systemd|docker`` and ``authgate doctor``.

Generated files go to stdout (or to --output / --output-dir) as plain text, never through Rich:
nginx's ``[...]`` and ``$var`` must come out exactly as rendered.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from authgate.cli.common import (
    EXIT_FAILURE,
    EXIT_USAGE,
    ConfigOption,
    command_group,
    console,
    failures_exit,
    labelled,
    load,
    out,
)

if TYPE_CHECKING:
    from rich.table import Table

    from authgate.config import Settings
    from authgate.deploy.doctor import Check
    from authgate.deploy.nginx import (
        NginxSiteOptions,
    )

deploy_app = command_group(
    help="Generate deployment files: an nginx site, systemd units, a Dockerfile and Compose file.",
    no_args_is_help=True)


class Tls(StrEnum):
    terminated_upstream = "terminated-upstream"
    certbot = "certbot"
    none = "none"


@deploy_app.command("nginx")
def nginx(
    domain: Annotated[str, typer.Option(help="the public host name, e.g. auth.example.com")],
    tls: Annotated[Tls, typer.Option(
        help="terminated-upstream: a TLS terminator in front sends plain HTTP to nginx; "
             "certbot: nginx serves HTTPS with Let's Encrypt files; none: plain HTTP")
    ] = Tls.terminated_upstream,
    protect: Annotated[list[str] | None, typer.Option(
        help="an app to put behind sign-in at /NAME/: NAME=UPSTREAM or NAME:ROLE=UPSTREAM "
             "(UPSTREAM is host:port or http://host:port\\[/path]); repeatable")] = None,
    listen_port: Annotated[int | None, typer.Option(
        help="port nginx listens on (default 80, or 443 with certbot)")] = None,
    listen_host: Annotated[str | None, typer.Option(
        help="address nginx listens on (default: every interface; loopback with "
             "terminated-upstream when the terminator is on this machine)")] = None,
    trusted_proxy: Annotated[list[str] | None, typer.Option(
        help="terminated-upstream: the TLS terminator's address or network, the only peer "
             "whose X-Forwarded-For is believed; repeatable (default 127.0.0.1 and ::1)")
    ] = None,
    log_dir: Annotated[str, typer.Option(help="nginx log directory")] = "/var/log/nginx",
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", help="write the site to this file instead of stdout")] = None,
    check: Annotated[bool, typer.Option(
        help="run `nginx -t` on the result (when nginx is installed)")] = False,
    verify_cache: Annotated[bool, typer.Option(
        help="keep a passing auth_request answer to the end of the second, under authgate's "
             "verdict epoch and the session cookie's digest (needs nginx's njs module, "
             "libnginx-mod-http-js, and its secure_link module)")] = True,
    config: ConfigOption = None,
) -> None:
    """An nginx site: authgate's routes plus apps protected with auth_request."""
    from authgate.deploy.nginx import parse_protect, render_nginx_site, site_options_from_settings
    settings = load(config)
    with _usage_errors():
        opts = site_options_from_settings(
            settings, domain=domain, tls=tls.value, listen_port=listen_port, log_dir=log_dir,
            listen_host=listen_host, protect=[parse_protect(p) for p in protect or []],
            verify_cache=verify_cache,
            **({"trusted_proxies": trusted_proxy} if trusted_proxy else {}))
        site = render_nginx_site(opts)
    _emit(site, output)
    if check:
        _check_nginx(opts)


def _check_nginx(opts: NginxSiteOptions) -> None:
    from authgate.deploy.nginx import (
        find_nginx,
        nginx_test,
        render_nginx_site,
        write_self_signed_cert,
        write_standalone_conf,
    )
    binary = find_nginx()
    if binary is None:
        console.print("nginx is not installed: the site was not checked", highlight=False)
        return
    with tempfile.TemporaryDirectory(prefix="authgate-nginx-check-") as tmp:
        workdir = Path(tmp)
        (workdir / "tmp").mkdir()
        # Check the same site, but with logs in the temp dir (nginx -t opens them) and, before
        # certbot has run, a throwaway certificate in place of the Let's Encrypt files.
        checked = replace(opts, log_dir=str(workdir))
        cert = Path(opts.ssl_certificate or f"/etc/letsencrypt/live/{opts.domain}/fullchain.pem")
        if opts.tls == "certbot" and not cert.exists():
            fake_cert, fake_key = write_self_signed_cert(workdir / "certs", opts.domain)
            checked = replace(checked, ssl_certificate=str(fake_cert),
                              ssl_certificate_key=str(fake_key))
            console.print(f"{cert} does not exist yet: checking with a temporary certificate",
                          highlight=False, soft_wrap=True)
        site = render_nginx_site(checked)
        result = nginx_test(write_standalone_conf(site, workdir), workdir, binary)
    console.print(result.output, highlight=False, markup=False, soft_wrap=True)
    if not result.ok:
        raise typer.Exit(EXIT_FAILURE)


@deploy_app.command("systemd")
def systemd_units(
    output_dir: Annotated[Path | None, typer.Option(
        help="write the unit files here (e.g. /etc/systemd/system) instead of stdout")] = None,
    timer: Annotated[bool, typer.Option(
        help="also a timer running `authgate refresh --due` every 5 minutes")] = False,
    authgate_path: Annotated[str, typer.Option(
        help="the authgate executable (default: the one of this installation)")] = "",
    user: Annotated[str, typer.Option(help="the system user the service runs as")] = "authgate",
    config: ConfigOption = None,
) -> None:
    """A hardened authgate.service (and optionally a refresh timer)."""
    from authgate.deploy import systemd
    settings = load(config)
    with _usage_errors():
        opts = systemd.unit_options_from_settings(settings, authgate_path=authgate_path,
                                                  user=user)
        files = systemd.unit_files(opts, timer=timer)
    exec_path = authgate_path or systemd.default_authgate_path()
    if exec_path.startswith(("/home/", "/root/")):
        console.print(f"warning: {exec_path} is under a home directory, which ProtectHome=yes "
                      "hides from the service; install authgate elsewhere (e.g. /opt/authgate)",
                      highlight=False)
    _emit_files(files, output_dir)


@deploy_app.command("docker")
def docker_files(
    output_dir: Annotated[Path | None, typer.Option(
        help="write Dockerfile and compose.yaml here instead of stdout")] = None,
    port: Annotated[int, typer.Option(help="the port authgate listens on in the container")
                    ] = 8000,
    config: ConfigOption = None,
) -> None:
    """A Dockerfile (non-root, health-checked) and a Compose file with PostgreSQL 15."""
    from authgate.deploy import docker
    load(config)
    with _usage_errors():
        files = docker.docker_files(port=port)
    _emit_files(files, output_dir)


def doctor(config: ConfigOption = None) -> None:
    """Check the installation: files and modes, database, providers, redirect URIs, proxy."""
    import asyncio

    from authgate.config_sources import resolve_config_path
    from authgate.private_files import private_umask

    private_umask()  # the database check may create SQLite's -wal/-shm files
    settings = load(config)
    config_path = resolve_config_path(config, os.environ)
    with failures_exit():
        checks = asyncio.run(_doctor(settings, config_path))
    out.print(_table(checks))
    failed = [c for c in checks if not c.ok]
    warned = [c for c in checks if c.ok and c.warning]
    out.print(f"{len(checks)} checks: {len(failed)} failed, {len(warned)} "
              f"warning{'' if len(warned) == 1 else 's'}", highlight=False)
    if failed:
        raise typer.Exit(EXIT_FAILURE)


async def _doctor(settings: Settings, config_path: Path | None) -> list[Check]:
    import httpx

    from authgate.deploy.doctor import run_doctor
    async with httpx.AsyncClient(follow_redirects=False, timeout=10.0) as http:
        return await run_doctor(settings, http=http, config_path=config_path)


_STYLE = {"ok": "green", "warn": "yellow", "fail": "bold red"}


def _table(checks: list[Check]) -> Table:
    from rich.table import Table
    from rich.text import Text

    table = Table(show_header=True, header_style="bold", expand=False)
    table.add_column("")
    table.add_column("check")
    table.add_column("detail", overflow="fold")
    for check in checks:
        detail = Text(check.detail)
        if check.hint:
            detail.append(f"\n→ {check.hint}", style="dim")
        table.add_row(Text(check.status, style=_STYLE[check.status]), Text(check.name), detail)
    return table


# -- helpers ------------------------------------------------------------------------------------

@contextmanager
def _usage_errors() -> Iterator[None]:
    """A value that cannot go into a generated file is a usage error (exit 2)."""
    from authgate.deploy.templating import DeployError
    try:
        yield
    except DeployError as exc:
        console.print(labelled(exc.error, exc.detail), soft_wrap=True)
        raise typer.Exit(EXIT_USAGE) from None


def _emit(text: str, output: Path | None) -> None:
    if output is None:
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text, encoding="utf-8")
    console.print(f"wrote {output}", highlight=False)


def _emit_files(files: dict[str, str], output_dir: Path | None) -> None:
    if output_dir is None:
        for i, (name, text) in enumerate(files.items()):
            sys.stdout.write(("\n" if i else "") + f"# ---- {name} ----\n" + text)
        sys.stdout.flush()
        return
    output_dir.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (output_dir / name).write_text(text, encoding="utf-8")
        console.print(f"wrote {output_dir / name}", highlight=False)


__all__ = ["deploy_app", "doctor"]
