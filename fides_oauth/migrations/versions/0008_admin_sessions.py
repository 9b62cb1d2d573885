"""Admin page sessions (CONTRACT §9): shared by every worker, keyed by the
SHA-256 of the cookie's token.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "fides_oauth_admin_sessions",
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("client_id", sa.String(255), nullable=False),
        sa.Column("csrf", sa.String(64), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
        sa.Column("last_seen", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_fides_oauth_admin_sessions"),
    )
    op.create_index(
        "ix_fides_oauth_admin_sessions_client_id",
        "fides_oauth_admin_sessions",
        ["client_id"],
    )
    op.create_index(
        "ix_fides_oauth_admin_sessions_expires_at",
        "fides_oauth_admin_sessions",
        ["expires_at"],
    )


def downgrade() -> None:
    op.drop_table("fides_oauth_admin_sessions")
