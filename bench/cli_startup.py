"""How long the command line takes to start and answer: ``authgate --help`` and ``authgate token
hh`` (what a bot shells out to for every token), as whole processes, against ``python -c pass``
in the same run. Commands alternate within each round (hyperfine-style repeated runs, but
interleaved, so that a busy machine weighs on all alike); wall time and CPU (user + system of the
child) are reported as medians.

Run: .venv/bin/python -m bench.cli_startup [--runs N]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time

from bench.common import stack
from tests.stacks import seed_connections


def timed(args: list[str], env: dict[str, str]) -> tuple[float, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(args, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args)}: exit {done.returncode}: {done.stderr[-500:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    s = stack()
    try:
        s.gateway.stop()  # the token command reads the vault itself; no server needed
        seed_connections(s, 1, expired=False, prefix="bench")
        python = sys.executable
        env = {k: v for k, v in os.environ.items() if not k.startswith("TESTONLY_")}
        commands = {
            "python -c pass": [python, "-c", "pass"],
            "authgate --help": [python, "-m", "authgate.cli", "--help"],
            "authgate token hh": [python, "-m", "authgate.cli", "token", "hh", "--owner",
                                  "bench:0", "--config", str(s.gateway.config)],
        }
        for argv in commands.values():  # warm the page cache
            timed(argv, env)
        walls: dict[str, list[float]] = {name: [] for name in commands}
        cpus: dict[str, list[float]] = {name: [] for name in commands}
        names = list(commands)
        for i in range(args.runs):
            for name in names[i % len(names):] + names[:i % len(names)]:
                wall, cpu = timed(commands[name], env)
                walls[name].append(wall)
                cpus[name].append(cpu)
        base_wall = statistics.median(walls["python -c pass"])
        base_cpu = statistics.median(cpus["python -c pass"])
        print(f"{args.runs} runs each, alternated; medians (min-max wall)")
        print(f"{'command':20} {'wall s':>8} {'÷ pass':>7} {'CPU s':>7} {'÷ pass':>7}   range")
        for name in names:
            wall, cpu = statistics.median(walls[name]), statistics.median(cpus[name])
            print(f"{name:20} {wall:8.3f} {wall / base_wall:7.1f} {cpu:7.3f} "
                  f"{cpu / max(base_cpu, 1e-3):7.1f}   {min(walls[name]):.3f}-"
                  f"{max(walls[name]):.3f}")
    finally:
        s.gateway.stop()
        s.devidp.stop()


if __name__ == "__main__":
    main()
