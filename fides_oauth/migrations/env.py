"""Alembic environment of the library's own tables.

Run through :mod:`fides_oauth.migrate` (or ``flask fides-oauth db ...``),
which hands over a connection; the version is kept in a table of its own,
``fides_oauth_alembic_version``, so it never collides with the host's.
"""

from __future__ import annotations

from typing import Any

from alembic import context

from fides_oauth.migrate import VERSION_TABLE
from fides_oauth.models import metadata


def _ours(name: str | None, type_: str, parent_names: Any) -> bool:
    # Only the library's tables: never propose changes to the host's.
    return type_ != "table" or bool(name and name.startswith("fides_oauth_"))


context.configure(
    connection=context.config.attributes["connection"],
    target_metadata=metadata,
    version_table=VERSION_TABLE,
    include_name=_ours,
    render_as_batch=True,
)
with context.begin_transaction():
    context.run_migrations()
