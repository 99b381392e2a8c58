"""replicas: a refresh claim names its holder and holds until a lease the holder renews;
data keys in the database, wrapped by a master key, for every replica

Revision ID: 0008_replicas
Revises: 0007_telegram_chats
Create Date: 2026-12-01 18:00:00

``claimed_by`` is the holding process (host:pid:nonce); ``claim_until`` the end of its lease in
the database's time. A claim left from before the upgrade has neither and counts as expired.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_replicas"
down_revision = "0007_telegram_chats"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("connections", schema=None) as batch_op:
        batch_op.add_column(sa.Column("claimed_by", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("claim_until", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "data_keys",
        sa.Column("kid", sa.String(length=16), primary_key=True),
        sa.Column("seq", sa.Integer(), nullable=False, unique=True),
        sa.Column("wrapped", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("data_keys")
    with op.batch_alter_table("connections", schema=None) as batch_op:
        batch_op.drop_column("claim_until")
        batch_op.drop_column("claimed_by")
