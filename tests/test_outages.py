"""A 503 says why, in the log: once per incident, with the fix when the
tables are missing, never a statement parameter or a secret."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import create_engine
from sqlalchemy.orm import scoped_session
from sqlalchemy.orm import sessionmaker

from fides_oauth import FidesOAuth
from fides_oauth import drop_tables
from tests.conftest import ROOT_ID
from tests.conftest import ROOT_SECRET
from tests.conftest import OAuth
from tests.conftest import base_config
from tests.conftest import bearer

TOKEN = "/api/v1/oauth/token"
ROOT = {"client_id": ROOT_ID, "client_secret": ROOT_SECRET}


def _errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "fides_oauth" and r.levelno == logging.ERROR
    ]


def _assert_503(response: Any) -> None:
    assert response.status_code == 503, response.data
    assert response.mimetype == "application/json"
    assert response.get_json()["error"] == "temporarily_unavailable"
    assert int(response.headers["Retry-After"]) > 0


def test_missing_tables_are_logged_once_with_the_fix(
    make_app: Any, caplog: pytest.LogCaptureFixture
) -> None:
    app = make_app()
    http = app.test_client()
    token = OAuth(app, http).root_token()
    drop_tables(app)
    with caplog.at_level(logging.ERROR, logger="fides_oauth"):
        _assert_503(http.post(TOKEN, data=ROOT))
        _assert_503(http.post(TOKEN, data=ROOT))  # the same incident
        errors = _errors(caplog)
        assert len(errors) == 1, errors
        assert "flask fides-oauth db upgrade" in errors[0]
        _assert_503(http.get("/api/v1/policy", headers=bearer(token)))
    for message in _errors(caplog):
        assert ROOT_SECRET not in message
        assert ROOT_ID not in message
        assert "parameters" not in message.lower()
        assert token not in message


def test_an_unreachable_database_is_logged_with_its_cause(
    tmp_path: Any, caplog: pytest.LogCaptureFixture
) -> None:
    # Nothing listens on port 1: the connection is refused at once.
    engine = create_engine("postgresql+psycopg://postgres@127.0.0.1:1/test")
    session = scoped_session(sessionmaker(bind=engine))
    app = Flask("unreachable")
    app.config.update(base_config(tmp_path))
    app.register_blueprint(FidesOAuth(session=session), url_prefix="/api/v1")
    app.teardown_appcontext(lambda exc: session.remove())
    try:
        with caplog.at_level(logging.ERROR, logger="fides_oauth"):
            _assert_503(app.test_client().post(TOKEN, data=ROOT))
        (message,) = _errors(caplog)
        assert "OperationalError" in message
        assert "db upgrade" not in message  # not a schema problem
        assert ROOT_SECRET not in message
    finally:
        engine.dispose()


def test_a_new_incident_is_logged_again() -> None:
    from sqlalchemy.exc import OperationalError

    from fides_oauth.outages import OutageLog

    log = OutageLog(repeat_after=3600)
    first = OperationalError("SELECT 1", {"secret": "x"}, Exception("gone"))
    second = OperationalError("SELECT 1", {}, Exception("still gone\nDETAIL: x"))
    logger = logging.getLogger("fides_oauth")
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign]
    logger.addHandler(handler)
    try:
        for error in (first, first, second, second, first):
            assert log.report(error).status_code == 503
    finally:
        logger.removeHandler(handler)
    messages = [record.getMessage() for record in records]
    assert len(messages) == 3, messages  # gone, still gone, gone again
    assert all("DETAIL" not in m and "secret" not in m for m in messages)
