"""Real servers on loopback for the deploy tests: uvicorn apps in threads, nginx in a subprocess.

The apps here test nginx's *wiring* only. ``StandInGateway`` is not authgate: its
``/auth/verify`` grants a fixed identity when a ``standin=allow`` cookie is present, so that the
tests can see what nginx sends to the verify call and to the protected app. Nothing here checks
authgate's own verification logic.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from authgate.deploy.nginx import find_nginx, write_standalone_conf
from tests.harness import Child, ThreadServer, bound_socket, wait_http


def _describe(request: Request) -> dict[str, Any]:
    return {"path": request.url.path, "query": request.url.query,
            "headers": [[k, v] for k, v in request.headers.items()]}


def echo_app() -> Starlette:
    """A protected app: answers every request with the path and headers it received."""

    async def echo(request: Request) -> Response:
        return JSONResponse(_describe(request))

    return Starlette(routes=[Route("/{path:path}", echo, methods=["GET", "POST"])])


@dataclass
class StandInGateway:
    """Stands in for authgate behind nginx (nginx-wiring tests only; see the module docstring)."""

    verify_calls: list[dict[str, Any]] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    # When set, a 401 names the sign-in URL in X-Auth-Request-Redirect.
    signin_redirect: str | None = None

    def app(self) -> Starlette:
        async def verify(request: Request) -> Response:
            self.verify_calls.append(_describe(request))
            if request.cookies.get("standin") != "allow":
                return Response(status_code=401, headers={
                    "X-Auth-Request-Redirect": self.signin_redirect} if self.signin_redirect
                    else {})
            if request.query_params.get("role") == "admin":
                return Response(status_code=403)
            return Response(status_code=200, headers={
                "X-Auth-Request-User": "alice", "X-Auth-Request-Email": "alice@example.com",
                "X-Auth-Request-Role": "user"})

        async def anything(request: Request) -> Response:
            self.requests.append(_describe(request))
            return JSONResponse(_describe(request))

        return Starlette(routes=[Route("/auth/verify", verify),
                                 Route("/{path:path}", anything, methods=["GET", "POST"])])


class ThreadedServer:
    """uvicorn serving ``app`` on a free loopback port, in a daemon thread."""

    def __init__(self, app: Any) -> None:
        self._server = ThreadServer(bound_socket(), app)
        self.port = int(self._server.sock.getsockname()[1])
        self.url = f"http://127.0.0.1:{self.port}"

    @property
    def server(self) -> Any:
        return self._server.server

    def start(self) -> ThreadedServer:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()


def nginx_binary() -> str | None:
    return find_nginx()


class Nginx(Child):
    """nginx in the foreground with a standalone config in ``workdir``."""

    name = "nginx"
    stop_signal = signal.SIGQUIT  # graceful: flushes logs

    def __init__(self, site: str, workdir: Path, port: int) -> None:
        self.workdir = workdir
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        (workdir / "tmp").mkdir(parents=True, exist_ok=True)
        self.conf = write_standalone_conf(site, workdir)

    def start(self) -> Nginx:
        binary = nginx_binary()
        assert binary is not None
        with (self.workdir / "nginx.stdout").open("ab") as log:
            proc = self.spawn([binary, "-c", str(self.conf), "-p", str(self.workdir)],
                              stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_http(f"{self.url}/_nginx_probe", process=proc,
                      log=self.workdir / "nginx.stdout", any_answer=True)
        except BaseException:
            self.kill()
            raise
        return self

    def logs(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in sorted(self.workdir.glob("*"))
                         if p.is_file() and p.suffix in (".log", ".stdout"))


def which(name: str) -> str | None:
    return shutil.which(name)
