"""The first schema: clients and signing keys.

Revision ID: 0001
Revises:
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "fides_oauth_clients",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("secret_hash", sa.String(60), nullable=False),
        sa.Column("scopes", sa.JSON(), nullable=False),
        sa.Column("name", sa.String(200), nullable=True),
        sa.Column("description", sa.String(2000), nullable=True),
        sa.Column("created_by", sa.String(255), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_fides_oauth_clients"),
    )
    op.create_index(
        "ix_fides_oauth_clients_created_at", "fides_oauth_clients", ["created_at"]
    )
    op.create_table(
        "fides_oauth_signing_keys",
        sa.Column("kid", sa.String(64), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("algorithm", sa.String(16), nullable=False),
        sa.Column("private_key_pem", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("kid", name="pk_fides_oauth_signing_keys"),
        sa.UniqueConstraint(
            "generation", name="uq_fides_oauth_signing_keys_generation"
        ),
    )


def downgrade() -> None:
    op.drop_table("fides_oauth_signing_keys")
    op.drop_index("ix_fides_oauth_clients_created_at", "fides_oauth_clients")
    op.drop_table("fides_oauth_clients")
