"""Client versions (optimistic concurrency) and the root token generation.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("fides_oauth_clients") as batch:
        batch.add_column(
            sa.Column(
                "version", sa.Integer(), nullable=False, server_default=sa.text("1")
            )
        )
    with op.batch_alter_table("fides_oauth_changes") as batch:
        batch.add_column(
            sa.Column(
                "root_token_generation",
                sa.Integer(),
                nullable=False,
                server_default=sa.text("0"),
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("fides_oauth_changes") as batch:
        batch.drop_column("root_token_generation")
    with op.batch_alter_table("fides_oauth_clients") as batch:
        batch.drop_column("version")
