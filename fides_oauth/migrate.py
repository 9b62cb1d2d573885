"""Schema migrations of the library's own tables, on Alembic.

The scripts live in ``fides_oauth/migrations`` and record their version in
``fides_oauth_alembic_version``, apart from any Alembic history of the
host's, so a host upgrades the library's tables in place with
:func:`upgrade` (or ``flask fides-oauth db upgrade``) whatever it uses for
its own models.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import Flask
from sqlalchemy.engine import Connection

from .state import current_state

__all__ = [
    "VERSION_TABLE",
    "current",
    "downgrade",
    "head",
    "skip_library_tables",
    "stamp",
    "upgrade",
]

VERSION_TABLE = "fides_oauth_alembic_version"
_SCRIPTS = Path(__file__).resolve().parent / "migrations"


def _config(connection: Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", str(_SCRIPTS))
    config.attributes["connection"] = connection
    return config


def skip_library_tables(name: str | None, type_: str, parent_names: Any) -> bool:
    """An ``include_name`` hook for the *host's* Alembic ``env.py``.

    The library's tables are not in the host's metadata; without this hook
    the host's autogenerate would propose dropping them::

        context.configure(..., include_name=skip_library_tables)
    """
    if type_ != "table" or not name:
        return True
    return not (name.startswith("fides_oauth_") or name == VERSION_TABLE)


def head() -> str:
    """The newest revision this release ships."""
    config = Config()
    config.set_main_option("script_location", str(_SCRIPTS))
    return str(ScriptDirectory.from_config(config).get_current_head())


def upgrade(app: Flask | None = None, revision: str = "head") -> None:
    """Bring the library's tables up to ``revision`` (the newest by default)."""
    if app is not None:
        with app.app_context():
            return upgrade(revision=revision)
    with current_state().engine().begin() as connection:
        command.upgrade(_config(connection), revision)
    return None


def downgrade(revision: str, app: Flask | None = None) -> None:
    """Take the library's tables back to ``revision`` ("base": none at all)."""
    if app is not None:
        with app.app_context():
            return downgrade(revision)
    with current_state().engine().begin() as connection:
        command.downgrade(_config(connection), revision)
    return None


def stamp(app: Flask | None = None, revision: str = "head") -> None:
    """Record ``revision`` as applied without running anything."""
    if app is not None:
        with app.app_context():
            return stamp(revision=revision)
    with current_state().engine().begin() as connection:
        command.stamp(_config(connection), revision)
    return None


def current(app: Flask | None = None) -> str | None:
    """The revision the database is at; None if never migrated."""
    if app is not None:
        with app.app_context():
            return current()
    with current_state().engine().connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"version_table": VERSION_TABLE}
        )
        return context.get_current_revision()
