"""Rotation grace, token revocation, failure limits, key rotation.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("fides_oauth_clients") as batch:
        batch.add_column(
            sa.Column("previous_secret_hash", sa.String(60), nullable=True)
        )
        batch.add_column(
            sa.Column("previous_secret_expires_at", sa.Float(), nullable=True)
        )
        batch.add_column(
            sa.Column(
                "token_generation",
                sa.Integer(),
                nullable=False,
                server_default=sa.text("0"),
            )
        )
    with op.batch_alter_table("fides_oauth_signing_keys") as batch:
        batch.add_column(sa.Column("retired_at", sa.Float(), nullable=True))
    op.create_table(
        "fides_oauth_auth_failures",
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("window_start", sa.Float(), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_fides_oauth_auth_failures"),
    )
    op.create_index(
        "ix_fides_oauth_auth_failures_window_start",
        "fides_oauth_auth_failures",
        ["window_start"],
    )
    op.create_table(
        "fides_oauth_revoked_tokens",
        sa.Column("jti", sa.String(64), nullable=False),
        sa.Column("client_id", sa.String(255), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("jti", name="pk_fides_oauth_revoked_tokens"),
    )
    op.create_index(
        "ix_fides_oauth_revoked_tokens_expires_at",
        "fides_oauth_revoked_tokens",
        ["expires_at"],
    )


def downgrade() -> None:
    op.drop_index(
        "ix_fides_oauth_revoked_tokens_expires_at", "fides_oauth_revoked_tokens"
    )
    op.drop_table("fides_oauth_revoked_tokens")
    op.drop_index(
        "ix_fides_oauth_auth_failures_window_start", "fides_oauth_auth_failures"
    )
    op.drop_table("fides_oauth_auth_failures")
    with op.batch_alter_table("fides_oauth_signing_keys") as batch:
        batch.drop_column("retired_at")
    with op.batch_alter_table("fides_oauth_clients") as batch:
        batch.drop_column("token_generation")
        batch.drop_column("previous_secret_expires_at")
        batch.drop_column("previous_secret_hash")
