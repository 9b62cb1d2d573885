"""The examples run: the existing app with Flask-Migrate, and the client script."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import KEY_ENCRYPTION_KEY
from tests.conftest import ROOT_ID
from tests.conftest import ROOT_SECRET
from tests.conftest import OAuth
from tests.conftest import database_url

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

pytest.importorskip("flask_migrate")


@pytest.fixture
def existing_app(tmp_path: Any) -> Any:
    from examples.existing_app.app import create_app
    from examples.existing_app.app import db

    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": database_url(tmp_path, "books.sqlite"),
            "FIDES_OAUTH_ROOT_CLIENT_ID": ROOT_ID,
            "FIDES_OAUTH_ROOT_CLIENT_SECRET": ROOT_SECRET,
            "FIDES_OAUTH_KEY_ENCRYPTION_KEY": KEY_ENCRYPTION_KEY,
            "FIDES_OAUTH_BCRYPT_ROUNDS": 4,
            "FIDES_OAUTH_ISSUER": "http://localhost/auth",
        }
    )
    runner = app.test_cli_runner()

    def flask(*args: str) -> Any:
        result = runner.invoke(args=list(args))
        assert result.exit_code == 0, result.output
        return result

    yield app, flask
    with app.app_context():
        from sqlalchemy import text

        from fides_oauth import drop_tables

        db.session.remove()
        drop_tables()
        with db.engine.begin() as connection:
            connection.execute(text("DROP TABLE IF EXISTS books"))
            connection.execute(text("DROP TABLE IF EXISTS alembic_version"))
        db.engine.dispose()


def test_existing_app_adopts_fides_oauth(existing_app: Any) -> None:
    app, flask = existing_app
    flask("db", "upgrade")  # the app's own migrations
    flask("fides-oauth", "db", "upgrade")  # the library's, with their own history
    # The app's autogenerate leaves the library's tables alone: `db check`
    # fails (non-zero) if it would emit any operation, e.g. dropping them.
    flask("db", "check")
    created = flask(
        "fides-oauth",
        "create-client",
        "--scope",
        "books:read",
        "--scope",
        "books:write",
    ).output
    pairs = dict(line.split(": ", 1) for line in created.splitlines() if ": " in line)
    http = app.test_client()
    token = http.post(
        "/auth/oauth/token",
        data={"client_id": pairs["client_id"], "client_secret": pairs["client_secret"]},
    ).get_json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    assert (
        http.post("/books", json={"title": "Dune"}, headers=headers).status_code == 201
    )
    response = http.get("/books", headers=headers)
    assert response.status_code == 200
    assert response.get_json() == {"books": ["Dune"], "reader": pairs["client_id"]}
    assert http.get("/books").status_code == 401


def test_client_script(oauth: OAuth, live_server: str) -> None:
    created = oauth.create_client(["policy:read"])
    result = subprocess.run(
        [
            sys.executable,
            str(EXAMPLES / "client.py"),
            live_server + "/api/v1",
            created["client_id"],
            "/policy",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "FIDES_OAUTH_CLIENT_SECRET": created["client_secret"]},
    )
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert answer == {
        "status": 200,
        "body": {"client_id": created["client_id"], "items": []},
    }
    assert created["client_secret"] not in result.stdout + result.stderr
