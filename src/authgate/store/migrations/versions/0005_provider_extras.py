"""provider presets: what a provider hands over on the callback and wants back on refresh

Revision ID: 0005_provider_extras
Revises: 0004_handoff_origin
Create Date: 2026-12-09 10:00:00

VK ID returns a ``device_id`` with the authorization code and requires it on every token
request after; it is kept with the connection in ``extras`` (a JSON object of strings).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_provider_extras"
down_revision = "0004_handoff_origin"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("connections", schema=None) as batch_op:
        batch_op.add_column(sa.Column("extras", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("connections", schema=None) as batch_op:
        batch_op.drop_column("extras")
