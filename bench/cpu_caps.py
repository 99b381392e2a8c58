"""A share of a core for a process, through the Linux cgroup ``cpu`` controller: lets one 2-core
machine stand for several small ones (each replica on "its own machine", capped), while the
shared parts (the provider look-alike, PostgreSQL) run uncapped beside them.

Needs root and a cgroup ``cpu`` controller (v1 ``cpu.cfs_quota_us`` or v2 ``cpu.max``);
``CpuCaps.open`` returns None where there is none, and the caller says so.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

PERIOD_US = 100_000
_V1 = Path("/sys/fs/cgroup/cpu")
_V2_MOUNTS = (Path("/sys/fs/cgroup"), Path("/sys/fs/cgroup/unified"))


class CpuCaps:
    def __init__(self, root: Path, v2: bool) -> None:
        self.root, self.v2 = root, v2
        self.groups: list[Path] = []

    @classmethod
    def open(cls, name: str) -> CpuCaps | None:
        """A parent group for this run's caps, or None when cgroups cannot cap CPU here."""
        if (_V1 / "cpu.cfs_quota_us").exists() and os.access(_V1, os.W_OK):
            root, v2 = _V1 / name, False
        else:
            mount = next((m for m in _V2_MOUNTS if "cpu" in _read(m / "cgroup.subtree_control")),
                         None)
            if mount is None or not os.access(mount, os.W_OK):
                return None
            root, v2 = mount / name, True
        try:
            root.mkdir(exist_ok=True)
            if v2:
                (root / "cgroup.subtree_control").write_text("+cpu")
        except OSError:
            return None
        return cls(root, v2)

    def cap(self, pid: int, cores: float) -> None:
        """Move ``pid`` (all its threads) into a group of its own allowed ``cores`` of CPU."""
        group = self.root / f"p{pid}"
        group.mkdir(exist_ok=True)
        quota = max(1000, int(cores * PERIOD_US))
        if self.v2:
            (group / "cpu.max").write_text(f"{quota} {PERIOD_US}")
        else:
            (group / "cpu.cfs_period_us").write_text(str(PERIOD_US))
            (group / "cpu.cfs_quota_us").write_text(str(quota))
        (group / "cgroup.procs").write_text(str(pid))
        self.groups.append(group)

    def close(self) -> None:
        """Remove the groups (a group goes once its processes have ended or moved out)."""
        parent_procs = self.root.parent / "cgroup.procs"
        for group in [*self.groups, self.root]:
            for pid in _read(group / "cgroup.procs").split():
                with contextlib.suppress(OSError):  # ended meanwhile
                    parent_procs.write_text(pid)
            with contextlib.suppress(OSError):
                group.rmdir()


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""
