"""The signed-in person as console pages see them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ConsoleUser:
    username: str
    role: str
    name: str | None
    email: str | None
    provider: str | None  # how this session signed in; None for a password
    identities: tuple[tuple[str, str], ...] = ()
    user_id: int = 0
    sid: str = ""  # this session
    has_password: bool = False

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def owner(self) -> str:
        """The vault owner of this person's own connections."""
        return f"user:{self.username}"
