"""security review: a handoff code remembers the panel origin it was made for

Revision ID: 0004_handoff_origin
Revises: 0003_scoped_keys
Create Date: 2026-12-08 11:00:00

Codes live 60 s; one made before the upgrade has no origin and is refused.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_handoff_origin"
down_revision = "0003_scoped_keys"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("handoff_codes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("origin", sa.String(length=255), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("handoff_codes", schema=None) as batch_op:
        batch_op.drop_column("origin")
