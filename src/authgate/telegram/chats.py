"""Telegram chats in the database: each chat's language, and its turn in the per-chat rate limit.

The language is the one of the pages the chat's user connected through (``?lang=``, the
language cookie, or the browser's Accept-Language), remembered when a ``tg:<chat_id>`` owner
connects. The rate limit is kept in the database so that every replica honours it: a chat gets
at most one attempt per interval, taken with a row lock (or, for a chat's first message, a
primary-key insert that only one replica wins).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import or_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from authgate.store.models import TelegramChat


class TelegramChats:
    def __init__(self, db: sessionmaker[Session]) -> None:
        self._db = db

    def language(self, chat_id: int) -> str | None:
        with self._db() as s:
            row = s.get(TelegramChat, chat_id)
            return row.language if row else None

    def remember_language(self, chat_id: int, language: str) -> None:
        try:
            with self._db.begin() as s:
                row = s.get(TelegramChat, chat_id, with_for_update=True)
                if row is None:
                    s.add(TelegramChat(chat_id=chat_id, language=language))
                else:
                    row.language = language
        except IntegrityError:  # created by a concurrent request just now: set it there
            with self._db.begin() as s:
                row = s.get(TelegramChat, chat_id, with_for_update=True)
                if row is not None:
                    row.language = language

    def take_turn(self, chat_id: int, *, now: datetime, interval: timedelta) -> float | None:
        """None: the chat may be written to now (and its turn is taken); else how many seconds
        until it may."""
        # One conditional UPDATE takes the turn: a read-then-write would let two deliveries
        # both see a free turn on SQLite, where FOR UPDATE is not a lock.
        free = or_(TelegramChat.last_message_at.is_(None),
                   TelegramChat.last_message_at <= now - interval)
        try:
            with self._db.begin() as s:
                taken = s.execute(update(TelegramChat)
                                  .where(TelegramChat.chat_id == chat_id, free)
                                  .values(last_message_at=now)
                                  .execution_options(synchronize_session=False))
                if taken.rowcount == 1:  # type: ignore[attr-defined]
                    return None
                row = s.get(TelegramChat, chat_id)
                if row is None:
                    s.add(TelegramChat(chat_id=chat_id, last_message_at=now))
                    return None
                last = row.last_message_at or now
                return max((last + interval - now).total_seconds(), 0.0)
        except IntegrityError:  # another replica wrote this chat's first message just now
            return interval.total_seconds()
