"""security review: API keys scoped to an owner prefix and to read-only

Revision ID: 0003_scoped_keys
Revises: 0002_harden
Create Date: 2026-12-08 10:00:00

Keys created before keep full access: no prefix, not read-only.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_scoped_keys"
down_revision = "0002_harden"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.add_column(sa.Column("owner_prefix", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("read_only", sa.Boolean(), nullable=False,
                                      server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.drop_column("read_only")
        batch_op.drop_column("owner_prefix")
