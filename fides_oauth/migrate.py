"""Schema migrations of the library's own tables, on Alembic.

The scripts live in ``fides_oauth/migrations`` and record their version in
``fides_oauth_alembic_version``, apart from any Alembic history of the
host's, so a host upgrades the library's tables in place with
:func:`upgrade` (or ``flask fides-oauth db upgrade``) whatever it uses for
its own models.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import Flask
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.engine import Engine

from .state import current_state

__all__ = [
    "VERSION_TABLE",
    "current",
    "downgrade",
    "head",
    "schema_lock",
    "skip_library_tables",
    "stamp",
    "upgrade",
]

VERSION_TABLE = "fides_oauth_alembic_version"
_SCRIPTS = Path(__file__).resolve().parent / "migrations"
#: pg_advisory_xact_lock key of schema changes: "fides_oauth" as 8 bytes.
_PG_LOCK_KEY = int.from_bytes(b"fidesoau", "big") >> 1


@contextlib.contextmanager
def schema_lock(engine: Engine) -> Iterator[Connection]:
    """A transaction in which this process alone changes the library's
    schema; workers that start together on an empty database wait their
    turn and then find the work done.

    PostgreSQL: a transaction-scoped advisory lock (DDL is transactional
    there, so the lock covers exactly the change). SQLite on a file: an
    exclusive lock on a file beside the database, as SQLite's own locks are
    not held across DDL checks. Elsewhere: a plain transaction.
    """
    if engine.dialect.name == "postgresql":
        with engine.begin() as connection:
            connection.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY}
            )
            yield connection
        return
    database = engine.url.database if engine.dialect.name == "sqlite" else None
    if not database or database == ":memory:" or database.startswith("file:"):
        with engine.begin() as connection:
            yield connection
        return
    with _file_lock(database + ".fides_oauth.lock"), engine.begin() as connection:
        yield connection


@contextlib.contextmanager
def _file_lock(path: str) -> Iterator[None]:
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not on POSIX: no lock to take
        yield
        return
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


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
    with schema_lock(current_state().core.store.engine()) as connection:
        command.upgrade(_config(connection), revision)
    return None


def downgrade(revision: str, app: Flask | None = None) -> None:
    """Take the library's tables back to ``revision`` ("base": none at all)."""
    if app is not None:
        with app.app_context():
            return downgrade(revision)
    with schema_lock(current_state().core.store.engine()) as connection:
        command.downgrade(_config(connection), revision)
    return None


def stamp(app: Flask | None = None, revision: str = "head") -> None:
    """Record ``revision`` as applied without running anything."""
    if app is not None:
        with app.app_context():
            return stamp(revision=revision)
    with schema_lock(current_state().core.store.engine()) as connection:
        command.stamp(_config(connection), revision)
    return None


def current(app: Flask | None = None) -> str | None:
    """The revision the database is at; None if never migrated."""
    if app is not None:
        with app.app_context():
            return current()
    with current_state().core.store.engine().connect() as connection:
        return revision_of(connection)


def revision_of(connection: Connection) -> str | None:
    """The revision ``connection``'s database is at; None if never migrated."""
    context = MigrationContext.configure(
        connection, opts={"version_table": VERSION_TABLE}
    )
    return context.get_current_revision()


def bring_to_head(connection: Connection) -> None:
    """Inside :func:`schema_lock`: create the library's schema on a database
    that has none, or upgrade an older one to this release's."""
    from .models import metadata  # the models import nothing of this module

    config = _config(connection)
    if revision_of(connection) is None:
        metadata.create_all(bind=connection)
        command.stamp(config, "head")
    else:
        command.upgrade(config, "head")
