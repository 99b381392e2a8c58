"""The child side of ``tests.harness.Forked``: turn a freshly forked copy of the preloaded fork
server into an ``authgate ARGS`` process. Kept apart (and small) so that the fork server can
import it without pytest.

Importing this module (the fork server does, once) also warms the interpreter up: it opens a
throwaway runtime and builds the web app once, so that the modules a gateway imports lazily are
loaded already, and it shares one TLS context between the gateways' HTTP clients (all test
traffic is plain HTTP on loopback; loading the CA bundle costs ~0.15 s of CPU per process). Each
gateway then does its own work only: its own settings, database, migrations, keys and app.
"""

from __future__ import annotations

import functools
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from argon2 import PasswordHasher


def run_authgate(args: list[str], env: dict[str, str], log: str, cwd: str,
                 stdout: str | None = None) -> None:
    """``authgate ARGS``: stderr (and stdout, unless ``stdout`` names a file of its own)
    appended to ``log``."""
    os.setsid()  # a session and process group of its own, ended as one
    for path, targets in ((log, (2,) if stdout else (1, 2)), (stdout, (1,))):
        if path is None:
            continue
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        for target in targets:
            os.dup2(fd, target)
        os.close(fd)
    os.environ.clear()
    os.environ.update(env)
    os.chdir(cwd)
    use_cheap_hasher()
    sys.argv = ["authgate", *args]
    from authgate.cli.main import main

    main()


def cheap_hasher() -> PasswordHasher:
    """argon2id at its lowest cost (t=1, 1 MiB, p=1), for tests whose point is not what a hash
    costs. At the production cost (argon2-cffi's defaults: t=3, 64 MiB, p=4) one hash or check
    takes ~0.2 s of CPU, and the tests sign in, fail to sign in and add users hundreds of times.
    The code path is the same (argon2id, the dummy check for an unknown user, rehashing a hash
    made with other parameters); only the parameters differ.
    ``tests/signin/test_services.py::test_seed_passwords_and_rehash`` pins the production ones."""
    from argon2 import PasswordHasher

    return PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


def use_cheap_hasher() -> None:
    """Every authgate process the tests fork (gateways, demos) hashes with ``cheap_hasher``."""
    from authgate.signin import passwords

    passwords._HASHER = cheap_hasher()
    passwords._dummy_hash.cache_clear()  # made with whichever hasher came first


def share_one_tls_context() -> None:
    """All test traffic is plain HTTP on loopback, yet every new httpx client loads the CA bundle
    into a TLS context (~20 ms of CPU, far more on a crowded machine; the tests make thousands of
    clients). One context, made once, serves them all: it is never used for a connection."""
    import httpx._transports.default as transports

    original = transports.create_ssl_context

    @functools.cache
    def default_context(trust_env: bool) -> object:  # (trust_env: SSL_CERT_FILE / _DIR or not)
        return original(trust_env=trust_env)

    def create_ssl_context(verify: object = True, cert: object = None,
                           trust_env: bool = True) -> object:
        if verify is True and cert is None:
            return default_context(trust_env)
        return original(verify=verify, cert=cert, trust_env=trust_env)

    transports.create_ssl_context = create_ssl_context  # type: ignore[assignment]
    default_context(True)
    default_context(False)  # the harness's own clients, which ignore proxy settings


def _warm_up() -> None:
    import importlib
    import importlib.util

    from authgate.config import load_settings
    from authgate.runtime import Runtime
    from authgate.web.app import create_app

    root = Path(tempfile.mkdtemp(prefix="authgate-warm-"))
    try:
        config = root / "authgate.toml"
        config.write_text(f'public_url = "http://127.0.0.1:1"\ndata_dir = "{root / "data"}"\n')
        runtime = Runtime.open(load_settings(config, environ={}))
        create_app(runtime)
        runtime.engine.dispose()
    finally:
        shutil.rmtree(root, ignore_errors=True)
    # What uvicorn and anyio import only once a server runs (``serve`` asks for uvloop and
    # httptools): a third of a forked gateway's start-up CPU otherwise.
    for name in _SERVING_MODULES:
        importlib.import_module(name)
    if importlib.util.find_spec("psycopg") is not None:
        for name in _POSTGRES_MODULES:
            importlib.import_module(name)


_SERVING_MODULES = ["uvicorn.loops.uvloop", "uvicorn.protocols.http.httptools_impl",
                    "uvicorn.protocols.websockets.auto", "uvicorn.lifespan.on",
                    "anyio._backends._asyncio", "encodings.idna"]
# A gateway on PostgreSQL imports its driver (an extra) when it makes its engine.
_POSTGRES_MODULES = ["psycopg", "sqlalchemy.dialects.postgresql.psycopg"]


if os.environ.get("AUTHGATE_TESTS_NO_WARM_UP") is None and "pytest" not in sys.modules:
    try:
        share_one_tls_context()
        _warm_up()
    except Exception as exc:  # only a speed-up (a gateway imports what it lacks itself), but
        # say so: a warm-up that silently stopped working costs every gateway start.
        print(f"tests.launch: the fork server's warm-up failed: {exc!r}", file=sys.stderr)
