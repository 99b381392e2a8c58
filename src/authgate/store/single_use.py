"""Single-use codes: a random code is handed out, only its hash is stored, and it works once.

Browser flows (``state``), connect links and handoff codes are all this: a row keyed by the
SHA-256 of the code, with an expiry and a column set when the code is used. ``redeem`` refuses an
unknown, used or expired code; marking the row used is one conditional UPDATE, so of two racing
redemptions only one wins. Callers keep their own transaction and say what a refusal means.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Generic, Literal, Protocol, TypeVar

from sqlalchemy import inspect, update
from sqlalchemy.orm import InstrumentedAttribute, Session

from authgate.secret_values import digest, new_secret

Reason = Literal["unknown", "used", "expired"]


class Refused(Exception):
    def __init__(self, reason: Reason) -> None:
        super().__init__(reason)
        self.reason: Reason = reason


class CodeRow(Protocol):
    @property
    def id(self) -> str: ...

    @property
    def expires_at(self) -> datetime: ...


Row = TypeVar("Row", bound=CodeRow)


class SingleUse(Generic[Row]):
    """The codes stored in ``model``; ``used`` is its column that is set on redemption."""

    def __init__(self, model: type[Row], used: InstrumentedAttribute[datetime | None]) -> None:
        self._model = model
        self._used = used
        self._mapper = inspect(model)
        (self._key,) = self._mapper.primary_key

    def issue(self, s: Session, make_row: Callable[[str], Row]) -> str:
        """A new code; ``make_row(key)`` builds its row, ``key`` being the code's hash."""
        code = new_secret()
        s.add(make_row(digest(code)))
        return code

    def find(self, s: Session, code: str, now: datetime, *,
             belongs: Callable[[Row], bool] = lambda row: True) -> Row:
        """The code's row if it could be redeemed now, without redeeming it, or ``Refused``.

        A row that does not ``belongs`` (e.g. a code issued for another provider) counts as
        unknown.
        """
        row = s.get(self._model, digest(code), with_for_update=True)
        if row is None or not belongs(row):
            raise Refused("unknown")
        if getattr(row, self._used.key) is not None:
            raise Refused("used")
        if row.expires_at <= now:
            raise Refused("expired")
        return row

    def redeem(self, s: Session, code: str, now: datetime, *,
               belongs: Callable[[Row], bool] = lambda row: True,
               check: Callable[[Row], None] = lambda row: None) -> Row:
        """The code's row, now marked used, or ``Refused``. ``check`` runs before the row is
        marked, and may raise its own error."""
        row = self.find(s, code, now, belongs=belongs)
        check(row)
        won = s.execute(update(self._mapper).where(self._key == row.id, self._used.is_(None))
                        .values({self._used: now})).rowcount  # type: ignore[attr-defined]
        if not won:
            raise Refused("used")
        return row
