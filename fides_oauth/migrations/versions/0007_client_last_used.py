"""When each client was last used (a coarse mark, at most about once a
minute per client).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06

Existing clients start with no mark (never used, as far as is known).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("fides_oauth_clients") as batch:
        batch.add_column(
            sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("fides_oauth_clients") as batch:
        batch.drop_column("last_used_at")
