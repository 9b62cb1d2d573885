"""The persisted audit trail: management changes, admin sign-ins and
sign-outs, signing-key rotations and token revocations (never grants).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "fides_oauth_audit_events",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=False,
        ),
        sa.Column("at", sa.Float(), nullable=False),
        sa.Column("event", sa.String(64), nullable=False),
        sa.Column("actor", sa.String(255), nullable=True),
        sa.Column("target", sa.String(255), nullable=True),
        sa.Column("scopes", sa.Text(), nullable=False),
        sa.Column("outcome", sa.String(32), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_fides_oauth_audit_events"),
    )
    for column in ("at", "actor", "target"):
        op.create_index(
            f"ix_fides_oauth_audit_events_{column}",
            "fides_oauth_audit_events",
            [column],
        )


def downgrade() -> None:
    op.drop_table("fides_oauth_audit_events")
