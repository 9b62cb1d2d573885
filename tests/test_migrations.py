"""Alembic migrations of the library's tables, with their own version table."""

from __future__ import annotations

from datetime import datetime
from datetime import timezone
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy import text

from fides_oauth import drop_tables
from fides_oauth import migrate
from fides_oauth.models import metadata
from tests.conftest import OAuth
from tests.conftest import bearer


def _engine(app: Any) -> Any:
    with app.app_context():
        return app.extensions["fides_oauth"].core.store.engine()


def _diff(app: Any) -> list[Any]:
    with _engine(app).connect() as connection:
        context = MigrationContext.configure(
            connection,
            opts={
                "include_name": lambda name, type_, parent: (
                    type_ != "table"
                    or (
                        str(name).startswith("fides_oauth_")
                        and name != migrate.VERSION_TABLE
                    )
                )
            },
        )
        return list(compare_metadata(context, metadata))


def test_upgrade_from_empty_equals_create_all(app: Any) -> None:
    assert _diff(app) == []  # create_all, as the fixture built it
    drop_tables(app)
    assert migrate.current(app) is None
    migrate.upgrade(app)
    assert migrate.current(app) == migrate.head()
    assert _diff(app) == []


def test_create_tables_records_the_newest_revision(app: Any) -> None:
    assert migrate.current(app) == migrate.head()
    tables = set(inspect(_engine(app)).get_table_names())
    assert migrate.VERSION_TABLE in tables
    assert "alembic_version" not in tables  # the host's name stays free


def test_upgrade_from_the_first_schema_keeps_clients_working(app: Any) -> None:
    drop_tables(app)
    migrate.upgrade(app, "0001")
    state = app.extensions["fides_oauth"]
    secret = "a-secret-from-the-first-release-0123456789"
    now = datetime.now(timezone.utc)
    with _engine(app).begin() as connection:
        connection.execute(
            text(
                "INSERT INTO fides_oauth_clients (id, secret_hash, scopes, name, "
                "description, created_by, created_at, updated_at) VALUES "
                "(:id, :hash, :scopes, NULL, NULL, 'root', :now, :now)"
            ),
            {
                "id": "ab" * 16,
                "hash": state.core.hasher.hash(secret),
                "scopes": '["policy:read"]',
                "now": now,
            },
        )
    migrate.upgrade(app)
    assert migrate.current(app) == migrate.head()
    oauth = OAuth(app, app.test_client())
    token = oauth.token("ab" * 16, secret)
    assert oauth.http.get("/api/v1/policy", headers=bearer(token)).status_code == 200
    # The new columns work on the old row: rotation with grace, revocation.
    response = oauth.http.post(
        f"/api/v1/oauth/client/{'ab' * 16}/secret",
        json={"grace_seconds": 60, "revoke_tokens": True},
        headers=oauth.root_headers(),
    )
    assert response.status_code == 200
    assert oauth.http.get("/api/v1/policy", headers=bearer(token)).status_code == 401
    assert oauth.token("ab" * 16, secret)  # still within the grace period


def test_downgrade_to_base_and_back(app: Any) -> None:
    migrate.downgrade("base", app)
    assert migrate.current(app) is None
    tables = set(inspect(_engine(app)).get_table_names())
    assert not {
        t for t in tables if t.startswith("fides_oauth_") and t != migrate.VERSION_TABLE
    }
    migrate.upgrade(app)
    assert _diff(app) == []


def test_cli_db_commands(app: Any) -> None:
    runner = app.test_cli_runner()
    drop_tables(app)
    assert runner.invoke(args=["fides-oauth", "db", "current"]).output.strip() == "none"
    result = runner.invoke(args=["fides-oauth", "db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert migrate.head() in result.output
    assert (
        runner.invoke(args=["fides-oauth", "db", "current"]).output.strip()
        == migrate.head()
    )
    assert runner.invoke(args=["fides-oauth", "db", "downgrade", "0001"]).exit_code == 0
    assert runner.invoke(args=["fides-oauth", "db", "current"]).output.strip() == "0001"
