"""Hosts whose session is bound in unusual ways still get exact answers:
in-memory SQLite (one connection is the whole database) and a session bound
to a Connection inside an outer transaction (the usual test recipe). There
the per-process fast reads would not see the session's data, so they step
aside and every read goes through the session."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask import jsonify
from sqlalchemy import create_engine
from sqlalchemy.orm import Session
from sqlalchemy.orm import scoped_session
from sqlalchemy.orm import sessionmaker
from sqlalchemy.pool import StaticPool

from fides_oauth import FidesOAuth
from fides_oauth import require_scopes
from fides_oauth.models import metadata
from tests.conftest import KEY_ENCRYPTION_KEY
from tests.conftest import ROOT_ID
from tests.conftest import ROOT_SECRET
from tests.conftest import TEST_DATABASE_URL
from tests.conftest import basic
from tests.conftest import bearer


def _app(session: Any) -> Flask:
    app = Flask("odd_bind")
    app.config.update(
        FIDES_OAUTH_ROOT_CLIENT_ID=ROOT_ID,
        FIDES_OAUTH_ROOT_CLIENT_SECRET=ROOT_SECRET,
        FIDES_OAUTH_KEY_ENCRYPTION_KEY=KEY_ENCRYPTION_KEY,
        FIDES_OAUTH_BCRYPT_ROUNDS=4,
    )
    app.register_blueprint(
        FidesOAuth(session=session, scopes=["report:read"]), url_prefix="/a"
    )

    @app.get("/reports")
    @require_scopes("report:read")
    def reports() -> Any:
        return jsonify([])

    return app


def _flow(app: Flask) -> None:
    """Revocation, scope cuts and deletion take effect, through every path."""
    http = app.test_client()

    def token(cid: str, secret: str) -> str:
        response = http.post(
            "/a/oauth/token", data={"client_id": cid, "client_secret": secret}
        )
        assert response.status_code == 200, response.get_json()
        return str(response.get_json()["access_token"])

    root = token(ROOT_ID, ROOT_SECRET)
    created = http.post(
        "/a/oauth/client", json=["report:read"], headers=bearer(root)
    ).get_json()
    cid, secret = created["client_id"], created["client_secret"]
    headers = bearer(token(cid, secret))
    assert http.get("/reports", headers=headers).status_code == 200
    http.put(f"/a/oauth/client/{cid}/scope", json=[], headers=bearer(root))
    assert http.get("/reports", headers=headers).status_code == 403
    http.put(f"/a/oauth/client/{cid}/scope", json=["report:read"], headers=bearer(root))
    assert http.get("/reports", headers=headers).status_code == 200
    revoke = http.post(
        "/a/oauth/revoke",
        data={"token": headers["Authorization"][7:]},
        headers=basic(cid, secret),
    )
    assert revoke.status_code == 200
    assert http.get("/reports", headers=headers).status_code == 401
    headers = bearer(token(cid, secret))
    assert (
        http.delete(f"/a/oauth/client/{cid}", headers=bearer(root)).status_code == 204
    )
    assert http.get("/reports", headers=headers).status_code == 401
    # The root's own token, revoked without ever being used.
    unused = token(ROOT_ID, ROOT_SECRET)
    http.post(
        "/a/oauth/revoke", data={"token": unused}, headers=basic(ROOT_ID, ROOT_SECRET)
    )
    assert http.get("/a/oauth/scope", headers=bearer(unused)).status_code == 401


def test_in_memory_sqlite() -> None:
    engine = create_engine(
        "sqlite://", poolclass=StaticPool, connect_args={"check_same_thread": False}
    )
    session = scoped_session(sessionmaker(bind=engine))
    app = _app(session)
    app.teardown_appcontext(lambda exc: session.remove())
    from fides_oauth import create_tables

    create_tables(app)
    _flow(app)
    engine.dispose()


@pytest.fixture
def outer_transaction(tmp_path: Any) -> Iterator[Any]:
    from sqlalchemy import insert

    from fides_oauth.models import ChangeCounter

    # The schema exists, committed; each test then runs inside a transaction
    # that is rolled back at its end.
    url = TEST_DATABASE_URL or f"sqlite:///{tmp_path / 'outer.sqlite'}"
    engine = create_engine(url)
    with engine.begin() as setup:
        metadata.drop_all(setup)
        metadata.create_all(setup)
        setup.execute(insert(ChangeCounter).values(id=1, counter=0))
    connection = engine.connect()
    outer = connection.begin()
    session = scoped_session(
        sessionmaker(bind=connection, join_transaction_mode="create_savepoint")
    )
    yield session
    session.remove()
    outer.rollback()  # nothing the test wrote through the session survives
    connection.close()
    with engine.begin() as teardown:
        metadata.drop_all(teardown)
    engine.dispose()


@pytest.mark.skipif(
    not (TEST_DATABASE_URL or "").startswith("postgresql"),
    reason="SQLite has one writer: the failure counts and the first signing key, "
    "written on connections of their own, wait on the outer transaction's lock",
)
def test_session_bound_to_a_connection_in_an_outer_transaction(
    outer_transaction: Any,
) -> None:
    session: scoped_session[Session] = outer_transaction
    app = _app(session)
    app.teardown_appcontext(lambda exc: session.remove())
    _flow(app)
