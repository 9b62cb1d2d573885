"""Known sources for the failure limits; signing keys sealed at rest.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05

The signing-key column is renamed for what it now holds: the private key
encrypted (AES-256-GCM) under the key-encryption key. Keys written in the
clear by an earlier release are sealed the first time this release loads
them. Going back below this revision deletes the stored signing keys (an
earlier release cannot read sealed keys): tokens they signed stop
verifying, and a new key is generated on first use.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "fides_oauth_known_sources",
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("last_success", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_fides_oauth_known_sources"),
    )
    op.create_index(
        "ix_fides_oauth_known_sources_last_success",
        "fides_oauth_known_sources",
        ["last_success"],
    )
    with op.batch_alter_table("fides_oauth_signing_keys") as batch:
        batch.alter_column("private_key_pem", new_column_name="sealed_private_key")


def downgrade() -> None:
    op.execute(sa.text("DELETE FROM fides_oauth_signing_keys"))
    with op.batch_alter_table("fides_oauth_signing_keys") as batch:
        batch.alter_column("sealed_private_key", new_column_name="private_key_pem")
    op.drop_index(
        "ix_fides_oauth_known_sources_last_success", "fides_oauth_known_sources"
    )
    op.drop_table("fides_oauth_known_sources")
