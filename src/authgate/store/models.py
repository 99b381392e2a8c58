"""Database tables. Secrets (tokens, private keys) are stored only as keyring ciphertexts.

Timestamps are timezone-aware UTC everywhere; ``UtcDateTime`` restores the zone that SQLite drops.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class UtcDateTime(TypeDecorator[datetime]):
    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; use UTC-aware datetimes")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UtcDateTime()}


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(150), unique=True)
    password_hash: Mapped[str | None] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(64))
    email: Mapped[str | None] = mapped_column(String(320))
    name: Mapped[str | None] = mapped_column(String(255))
    picture: Mapped[str | None] = mapped_column(Text)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    # Free-form per-user data carried over from the seed's users.json (e.g. "servers").
    attributes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class Identity(Base):
    """A user's account at an OpenID provider: (provider, subject) is the stable link."""

    __tablename__ = "identities"
    __table_args__ = (UniqueConstraint("provider", "subject"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    provider: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime]


class Session(Base):
    __tablename__ = "sessions"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    provider: Mapped[str | None] = mapped_column(String(64))
    id_token_enc: Mapped[str | None] = mapped_column(Text)
    ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(512))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime] = mapped_column(index=True)
    revoked_at: Mapped[datetime | None]


class SigninEvent(Base):
    __tablename__ = "signin_events"
    __table_args__ = (Index("ix_signin_events_ip_at", "ip", "at"),
                      Index("ix_signin_events_username_at", "username", "at"))
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime]
    username: Mapped[str | None] = mapped_column(String(150))
    provider: Mapped[str] = mapped_column(String(64))
    result: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(String(255))
    ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(512))


class ApiKey(Base):
    __tablename__ = "api_keys"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    prefix: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    # Scope: only owners starting with owner_prefix (None: every owner); read_only keys may list
    # and read tokens but not create connect links or disconnect.
    owner_prefix: Mapped[str | None] = mapped_column(String(200))
    read_only: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class AuthFlow(Base):
    """One browser round trip to a provider (login or connect), keyed by a hash of ``state``.

    ``binding_hash`` ties it to the browser that started it (a cookie); ``consumed_at`` makes it
    single-use with one conditional UPDATE.
    """

    __tablename__ = "auth_flows"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    provider: Mapped[str] = mapped_column(String(64))
    binding_hash: Mapped[str] = mapped_column(String(64))
    nonce: Mapped[str | None] = mapped_column(String(128))
    code_verifier_enc: Mapped[str | None] = mapped_column(Text)
    redirect_uri: Mapped[str] = mapped_column(Text)
    next_url: Mapped[str | None] = mapped_column(Text)
    owner: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime] = mapped_column(index=True)
    consumed_at: Mapped[datetime | None]


class ConnectSession(Base):
    """A one-time link a bot hands to its user; keyed by a hash of the link's secret."""

    __tablename__ = "connect_sessions"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    provider: Mapped[str] = mapped_column(String(64))
    owner: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    # The name of the API key that asked for the link (None: the operator, from the CLI).
    requested_by: Mapped[str | None] = mapped_column(String(128))


class Connection(Base):
    __tablename__ = "connections"
    __table_args__ = (UniqueConstraint("provider", "owner"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    provider: Mapped[str] = mapped_column(String(64))
    owner: Mapped[str] = mapped_column(String(255))
    account_id: Mapped[str | None] = mapped_column(String(255))
    account_name: Mapped[str | None] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(32))
    access_token_enc: Mapped[str] = mapped_column(Text)
    refresh_token_enc: Mapped[str | None] = mapped_column(Text)
    token_type: Mapped[str] = mapped_column(String(32))
    scope: Mapped[str | None] = mapped_column(Text)
    # What the provider handed over on the callback and wants back on every token request
    # (VK ID's device_id): a JSON object of strings; None when the provider has nothing such.
    extras: Mapped[dict[str, str] | None] = mapped_column(JSON)
    expires_at: Mapped[datetime | None]
    next_refresh_at: Mapped[datetime | None] = mapped_column(index=True)
    last_refresh_at: Mapped[datetime | None]
    # Set (and committed) before a refresh token is sent; cleared with the result. If it is still
    # set after a crash, the token may have been consumed and must not be sent blindly again.
    refresh_started_at: Mapped[datetime | None]
    # The process holding the refresh claim, and the end of its lease (the database's time); the
    # holder renews the lease while it works, so a dead holder's claim is taken over in seconds.
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    claim_until: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    generation: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class TelegramChat(Base):
    """What authgate knows of a ``tg:<chat_id>`` owner's chat: the language of the pages its
    user connected through, and when the bot last wrote there (the per-chat rate limit)."""

    __tablename__ = "telegram_chats"
    chat_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    language: Mapped[str | None] = mapped_column(String(8))
    last_message_at: Mapped[datetime | None]


class DataKey(Base):
    """An encryption key for secrets at rest, wrapped by the master key (``[keyring]``)."""

    __tablename__ = "data_keys"
    kid: Mapped[str] = mapped_column(String(16), primary_key=True)
    # The current key has the highest seq; keys merged in from keyring.json files get lower ones.
    seq: Mapped[int] = mapped_column(Integer, unique=True)
    wrapped: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]


class SigningKey(Base):
    """Session-JWT signing keys; the private half is a keyring ciphertext."""

    __tablename__ = "signing_keys"
    kid: Mapped[str] = mapped_column(String(64), primary_key=True)
    alg: Mapped[str] = mapped_column(String(16))
    private_jwk_enc: Mapped[str] = mapped_column(Text)
    public_jwk: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime]
    # A retired key signs nothing new but stays in the JWKS until its sessions have expired.
    retired_at: Mapped[datetime | None]


class HandoffCode(Base):
    """One-time code (60 s) that a panel on another origin trades for the session JWT."""

    __tablename__ = "handoff_codes"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("sessions.id", ondelete="CASCADE"))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    # The panel origin the code was made for: POST /auth/token must come with this Origin.
    origin: Mapped[str | None] = mapped_column(String(255))


class OutboxMessage(Base):
    """One event on its way to one destination (a webhook endpoint, a chat), written in the
    transaction of the change that caused it: the transactional outbox (see ``authgate.outbox``).

    ``seq`` orders the messages of one (channel, destination, ordering_key); ``message_id`` is
    the id the receiver sees (``webhook-id``), the same on every attempt.
    """

    __tablename__ = "outbox_messages"
    __table_args__ = (
        Index("ix_outbox_due", "state", "next_attempt_at"),
        Index("ix_outbox_queue", "channel", "destination", "ordering_key", "state", "seq"),
    )
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    message_id: Mapped[str] = mapped_column(String(64), unique=True)
    channel: Mapped[str] = mapped_column(String(32))
    destination: Mapped[str] = mapped_column(String(255))
    ordering_key: Mapped[str] = mapped_column(String(400))
    event_type: Mapped[str] = mapped_column(String(64))
    # The exact body sent on every attempt (JSON; never a token).
    body: Mapped[str] = mapped_column(Text)
    # pending | delivered | dead
    state: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime]
    next_attempt_at: Mapped[datetime]
    # Failed attempts are retried until this moment, then the message is dead.
    retry_until: Mapped[datetime]
    # A claim by one replica: nobody else takes the message before lease_until.
    lease_until: Mapped[datetime | None]
    claim_token: Mapped[str | None] = mapped_column(String(64))
    claimed_by: Mapped[str | None] = mapped_column(String(128))
    last_attempt_at: Mapped[datetime | None]
    last_answer: Mapped[str | None] = mapped_column(String(300))
    delivered_at: Mapped[datetime | None]
    delivered_by: Mapped[str | None] = mapped_column(String(128))


class WebhookEndpoint(Base):
    """An endpoint added at run time (CLI or console); those from the config file are not here."""

    __tablename__ = "webhook_endpoints"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    url: Mapped[str] = mapped_column(Text)
    # "whsec_..." as a keyring ciphertext.
    secret_enc: Mapped[str] = mapped_column(Text)
    events: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime]
