from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.chromium import browser
from tests.harness import bound, end_all_live, stop_fork_server
from tests.launch import share_one_tls_context
from tests.stacks import stack_factory

__all__ = ["browser", "stack_factory"]

_PR_SET_CHILD_SUBREAPER = 36


def pytest_configure(config: pytest.Config) -> None:
    # Orphans of the processes this one started (a grandchild whose parent died) become its
    # children instead of init's, so the check at the end sees them too.
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    share_one_tls_context()
    _patient_http_clients()
    # xdist's loadscope hands out modules by number of tests, most first, unless told not to:
    # then a long module of one or two tests (an install, a volume test) starts last and runs
    # alone at the end. In collection order instead, which puts the longest first (below).
    if hasattr(config.option, "loadscopereorder"):
        config.option.loadscopereorder = False


def _patient_http_clients() -> None:
    """httpx gives up after 5 s by default; on a crowded machine a loopback answer can take
    longer than that. A test's client that sets no timeout waits as long as a scaled bound
    (pytest-timeout still ends a test that hangs)."""
    try:
        from httpx._config import DEFAULT_TIMEOUT_CONFIG as default
    except ImportError:
        return
    patient = bound(60.0)
    default.connect = default.read = default.write = default.pool = patient


# Modules that take longest (measured on an idle 2-core machine, longest first), started first:
# with one module per worker at a time (--dist loadscope), a long module picked up last would
# run alone at the end. Keep it roughly in step with ``--durations`` when modules change.
_LONGEST_FIRST = ["tests/vault/test_failures.py", "tests/telegram/test_reconnect.py",
                  "tests/vault/test_replicas.py", "tests/cli/test_first_hour.py",
                  "tests/cli/test_vault_cli.py", "tests/cli/test_install.py",
                  "tests/webhooks/test_replicas.py", "tests/webhooks/test_events.py",
                  "tests/signin/test_password.py", "tests/vault/test_hh_lifecycle.py",
                  "tests/vault/test_database_outage.py", "tests/cli/test_database_outage.py",
                  "tests/vault/test_presets.py", "tests/webhooks/test_manage.py",
                  "tests/webhooks/test_crash.py", "tests/cli/test_demo.py",
                  "tests/webhooks/test_retries.py", "tests/web/test_bad_input.py",
                  "tests/signin/test_seed_import.py", "tests/vault/test_crash_recovery.py"]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        path = item.nodeid.split("::", 1)[0]
        return _LONGEST_FIRST.index(path) if path in _LONGEST_FIRST else len(_LONGEST_FIRST)

    items.sort(key=rank)  # stable: the order within a module, and of the others, is kept
    # pytest-timeout's limit (pyproject) is for an idle machine: scaled like every other bound.
    timeout = config.getini("timeout")
    if timeout:
        scaled = pytest.mark.timeout(bound(float(timeout)))
        for item in items:
            if item.get_closest_marker("timeout") is None:
                item.add_marker(scaled)


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """With ``-m browser`` (scripts/test's browser half) a test file that never says "browser"
    holds no browser test: it is not imported, which saves the seconds of CPU that importing
    every module takes only to deselect all of its tests (the other half runs them)."""
    if (config.option.markexpr != "browser" or collection_path.suffix != ".py"
            or not collection_path.name.startswith("test_")):
        return None
    text = collection_path.read_text(encoding="utf-8", errors="replace")
    return None if "browser" in text or "browser" in collection_path.parts else True


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def cheap_passwords() -> Iterator[None]:
    """Passwords hashed and checked in this process at argon2's lowest cost, for tests of
    sign-in code that are not about what a hash costs (see ``cheap_password_hashing``)."""
    # Imported here: the xdist controllers load this file too, and need none of the runtime.
    from tests.inprocess import cheap_password_hashing

    with cheap_password_hashing():
        yield


@pytest.fixture(scope="session", autouse=True)
def migrated_fresh_databases() -> Iterator[None]:
    """Every ``Runtime.open`` of this process on a fresh SQLite data_dir starts from a copy of a
    database migrated once (``tests/migrated.py`` says why)."""
    from authgate.runtime import Runtime
    from tests.migrated import seed_fresh_database

    original_open = Runtime.open.__func__  # type: ignore[attr-defined]

    def open_seeded(cls: type[Runtime], settings: Any, *args: Any, **kwargs: Any) -> Runtime:
        seed_fresh_database(settings)
        runtime: Runtime = original_open(cls, settings, *args, **kwargs)
        return runtime

    Runtime.open = classmethod(open_seeded)  # type: ignore[method-assign, assignment]
    yield
    Runtime.open = classmethod(original_open)  # type: ignore[method-assign]


# -- nothing left running -------------------------------------------------------------------------

def _proc_stat(pid: int) -> tuple[str, int] | None:
    """(state, parent pid) of ``pid`` from /proc, or None once it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name is in parentheses and may contain anything: split after the last ")".
    fields = stat[stat.rindex(")") + 2:].split()
    return fields[0], int(fields[1])


def _cmdline(pid: int) -> str:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return "?"
    return raw.replace(b"\0", b" ").decode(errors="replace").strip()[:200]


def live_descendants(root: int) -> dict[int, str]:
    """Every running (not zombie) descendant of ``root``, with its command line. Zombie children
    of ``root`` are reaped on the way."""
    children: dict[int, list[int]] = {}
    states: dict[int, str] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        info = _proc_stat(int(entry))
        if info is not None:
            states[int(entry)] = info[0]
            children.setdefault(info[1], []).append(int(entry))
    found: dict[int, str] = {}
    todo = list(children.get(root, []))
    while todo:
        pid = todo.pop()
        todo.extend(children.get(pid, []))
        if states.get(pid) == "Z":
            if pid in children.get(root, []):
                with contextlib.suppress(ChildProcessError):
                    os.waitpid(pid, os.WNOHANG)
            continue
        found[pid] = _cmdline(pid)
    return found


def _is_xdist_worker_process(cmdline: str) -> bool:
    return "execnet" in cmdline or "sys.stdin.readline()" in cmdline


def leftover_processes(*, grace: float = 5.0) -> dict[int, str]:
    """Descendants of this process still running after ``grace`` (scaled) seconds for the ones
    that are on their way out (a browser closing its helpers)."""
    deadline = time.monotonic() + bound(grace)
    while True:
        left = {pid: cmd for pid, cmd in live_descendants(os.getpid()).items()
                if not _is_xdist_worker_process(cmd)}
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.1)


def _kill(pids: dict[int, str]) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)


@pytest.fixture(scope="session", autouse=True)
def _nothing_left_running() -> Iterator[None]:
    """Set up before every other session fixture, so torn down after them all: every process the
    tests started must be gone by now. Whatever is not is ended, and the session fails."""
    yield
    registered = end_all_live()
    stop_fork_server()
    others = leftover_processes()
    _kill(others)
    left = registered + [f"pid {pid}: {cmd}" for pid, cmd in others.items()]
    if left:
        pytest.fail("processes the tests started were still running at the end (now killed):\n"
                    + "\n".join(left), pytrace=False)


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """The same check for the whole run, in the process that runs pytest (after xdist's workers
    have ended): a process outliving the tests fails the run."""
    left = leftover_processes()
    if not left:
        return
    _kill(left)
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line("processes still running at the end of the session (now killed):",
                            red=True)
        for pid, cmd in left.items():
            reporter.write_line(f"  pid {pid}: {cmd}", red=True)
    session.exitstatus = pytest.ExitCode.TESTS_FAILED
