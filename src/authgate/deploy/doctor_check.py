"""One line of ``authgate doctor``'s report, shared by the local and the network checks."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    hint: str | None = None
    # ok but worth a look (authgate not running, clock skew, connections to renew).
    warning: bool = False

    @property
    def status(self) -> Literal["ok", "warn", "fail"]:
        if not self.ok:
            return "fail"
        return "warn" if self.warning else "ok"
