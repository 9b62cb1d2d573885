"""Client metadata (RFC 7591 names) and the assertion replay set.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06

Existing clients keep working unchanged: they become ``client_secret_basic``
clients (which also accept ``client_secret_post``, as before) with the
app's token lifetime. Going back below this revision deletes the clients
that have no secret (``private_key_jwt``): an earlier release cannot
authenticate them.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("fides_oauth_clients") as batch:
        batch.alter_column("secret_hash", existing_type=sa.String(60), nullable=True)
        batch.add_column(
            sa.Column(
                "token_endpoint_auth_method",
                sa.String(32),
                nullable=False,
                server_default="client_secret_basic",
            )
        )
        batch.add_column(sa.Column("jwks", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("jwks_uri", sa.String(2048), nullable=True))
        batch.add_column(
            sa.Column("access_token_lifetime", sa.Integer(), nullable=True)
        )
        batch.add_column(
            sa.Column(
                "dpop_bound_access_tokens",
                sa.Boolean(),
                nullable=False,
                server_default=sa.false(),
            )
        )
    op.create_table(
        "fides_oauth_seen",
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_fides_oauth_seen"),
    )
    op.create_index(
        "ix_fides_oauth_seen_expires_at", "fides_oauth_seen", ["expires_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_fides_oauth_seen_expires_at", "fides_oauth_seen")
    op.drop_table("fides_oauth_seen")
    op.execute(sa.text("DELETE FROM fides_oauth_clients WHERE secret_hash IS NULL"))
    with op.batch_alter_table("fides_oauth_clients") as batch:
        batch.drop_column("dpop_bound_access_tokens")
        batch.drop_column("access_token_lifetime")
        batch.drop_column("jwks_uri")
        batch.drop_column("jwks")
        batch.drop_column("token_endpoint_auth_method")
        batch.alter_column("secret_hash", existing_type=sa.String(60), nullable=False)
