"""Signing keys are sealed at rest (AES-256-GCM under a key-encryption key).

No private key in any SQL log record or database byte; a wrong
key-encryption key fails start-up with a message that says what to do, and
never makes the app generate a fresh key silently.
"""

from __future__ import annotations

import base64
import logging
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from joserfc.jwk import ECKey
from sqlalchemy import create_engine
from sqlalchemy import inspect
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import scoped_session
from sqlalchemy.orm import sessionmaker

from fides_oauth import FidesOAuth
from fides_oauth import create_tables
from fides_oauth import current_client
from fides_oauth import require_scopes
from fides_oauth.keys import KeyStore
from fides_oauth.models import SigningKey
from fides_oauth.sealing import KeySealer
from fides_oauth.sealing import SealError
from tests.conftest import ROOT_ID
from tests.conftest import ROOT_SECRET
from tests.conftest import TEST_DATABASE_URL
from tests.conftest import OAuth
from tests.conftest import base_config
from tests.conftest import bearer
from tests.conftest import database_url

ROOT = {"client_id": ROOT_ID, "client_secret": ROOT_SECRET}
KEK = "key-encryption-key-one-0123456789"
OTHER_KEK = "key-encryption-key-two-0123456789"


@pytest.fixture
def start(tmp_path: Path) -> Any:
    """Start a host on the test's database again, with other settings (a
    restart, a redeploy); its engine is disposed afterwards, even when
    start-up fails."""
    engines: list[Engine] = []

    def factory(**overrides: Any) -> Flask:
        engine = create_engine(database_url(tmp_path))
        engines.append(engine)
        session = scoped_session(sessionmaker(bind=engine))
        app = Flask("restarted")
        app.config.update(base_config(tmp_path) | overrides)
        app.register_blueprint(FidesOAuth(session=session), url_prefix="/api/v1")
        app.teardown_appcontext(lambda exc: session.remove())
        app.add_url_rule(
            "/api/v1/whoami",
            "whoami",
            require_scopes()(lambda: {"client_id": current_client.client_id}),
        )
        create_tables(app)
        return app

    yield factory
    for engine in engines:
        engine.dispose()


def _private_forms(key: ECKey) -> list[bytes]:
    """Every way the private scalar may be written down."""
    d = key.as_dict(private=True)["d"]
    raw = base64.urlsafe_b64decode(d + "=" * (-len(d) % 4))
    return [
        b"PRIVATE KEY",
        d.encode(),
        raw,
        raw.hex().encode(),
        str(int.from_bytes(raw, "big")).encode(),
        base64.b64encode(raw).rstrip(b"="),
    ]


def _every_row(url: str) -> bytes:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            rows = []
            for table in inspect(connection).get_table_names():
                if table.startswith("fides_oauth"):
                    sql = f"SELECT * FROM {table}"  # noqa: S608 - names from the schema
                    rows += connection.exec_driver_sql(sql).all()
        return repr(rows).encode()
    finally:
        engine.dispose()


def _stored(app: Any) -> list[str]:
    from examples.host_app import db

    with app.app_context():
        values = list(db.session.scalars(select(SigningKey.sealed_private_key)))
        db.session.remove()
    return values


def test_no_private_key_in_sql_logs_or_database_bytes(
    make_app: Any, caplog: pytest.LogCaptureFixture
) -> None:
    app = make_app(FIDES_OAUTH_KEY_ENCRYPTION_KEY=KEK)
    http = app.test_client()
    with caplog.at_level(logging.DEBUG, logger="sqlalchemy.engine"):
        # echo="debug" level: statements, parameters and result rows.
        token = OAuth(app, http).root_token()  # generates and stores the key
        with app.app_context():
            new_kid = app.extensions["fides_oauth"].core.keys.rotate()
        second = OAuth(app, http).root_token()  # loads both keys
    assert http.get("/api/v1/policy", headers=bearer(token)).status_code == 200
    state = app.extensions["fides_oauth"]
    with app.app_context():
        keys = state.core.keys.verification_keys().keys
    assert len(keys) == 2 and new_kid in {key.kid for key in keys}
    assert second
    logged = "\n".join(r.getMessage() for r in caplog.records).encode()
    assert b"sealed_private_key" in logged  # the statements were captured
    stored = _every_row(app.config["SQLALCHEMY_DATABASE_URI"])
    for key in keys:
        for form in _private_forms(key):
            assert form not in logged
            assert form not in stored
    if TEST_DATABASE_URL is None:  # the raw file too, free pages included
        path = app.config["SQLALCHEMY_DATABASE_URI"].removeprefix("sqlite:///")
        raw = Path(path).read_bytes()
        for key in keys:
            for form in _private_forms(key):
                assert form not in raw
    assert all(value.startswith("v1.") for value in _stored(app))


def test_wrong_key_encryption_key_fails_start_up_and_generates_nothing(
    make_app: Any, start: Any
) -> None:
    app = make_app(FIDES_OAUTH_KEY_ENCRYPTION_KEY=KEK)
    OAuth(app, app.test_client()).root_token()
    before = _stored(app)
    with pytest.raises(SealError, match="FIDES_OAUTH_KEY_ENCRYPTION_KEY"):
        start(FIDES_OAUTH_KEY_ENCRYPTION_KEY=OTHER_KEK)
    assert _stored(app) == before  # no new key, nothing re-sealed


def test_unset_key_encryption_key_fails_registration_with_what_to_do(
    start: Any,
) -> None:
    with pytest.raises(RuntimeError) as raised:
        start(FIDES_OAUTH_KEY_ENCRYPTION_KEY=None)
    message = str(raised.value)
    assert "FIDES_OAUTH_KEY_ENCRYPTION_KEY is not set" in message
    assert "secrets.token_urlsafe" in message
    assert ROOT_SECRET not in message
    # With a signing key of the host's own, nothing is stored: none needed.
    pem = ECKey.generate_key("P-256", private=True).as_pem(private=True).decode()
    app = start(FIDES_OAUTH_KEY_ENCRYPTION_KEY=None, FIDES_OAUTH_SIGNING_KEY=pem)
    assert app.test_client().post("/api/v1/oauth/token", data=ROOT).status_code == 200


def _sealed_under(app: Any) -> set[str]:
    return {value.split(".")[1] for value in _stored(app)}


def test_rotating_the_key_encryption_key_never_strands_a_running_worker(
    make_app: Any, start: Any
) -> None:
    app = make_app(FIDES_OAUTH_KEY_ENCRYPTION_KEY=KEK)
    token = OAuth(app, app.test_client()).root_token()
    before = _sealed_under(app)

    def opens(worker: Any) -> bool:
        with worker.app_context():
            return worker.extensions["fides_oauth"].core.keys.check() == 1

    # Step 1: every worker learns the new key; nothing is re-sealed, so a
    # worker still on the old list keeps opening the keys.
    step1 = start(FIDES_OAUTH_KEY_ENCRYPTION_KEY=[KEK, OTHER_KEK])
    assert _sealed_under(app) == before
    assert opens(app)
    # Step 2: the new key first, then reseal-keys, once no worker is left
    # on the old list alone.
    step2 = start(FIDES_OAUTH_KEY_ENCRYPTION_KEY=[OTHER_KEK, KEK])
    with step2.app_context():
        assert step2.extensions["fides_oauth"].core.keys.reseal() == 1
        assert step2.extensions["fides_oauth"].core.keys.reseal() == 0
    assert _sealed_under(app) != before
    assert opens(step1)
    # Step 3: the new key alone; tokens signed before still verify.
    final = start(FIDES_OAUTH_KEY_ENCRYPTION_KEY=OTHER_KEK)
    assert (
        final.test_client().get("/api/v1/whoami", headers=bearer(token)).status_code
        == 200
    )
    with pytest.raises(SealError):
        start(FIDES_OAUTH_KEY_ENCRYPTION_KEY=KEK)


def test_rotating_the_signing_key_with_a_wrong_kek_adds_nothing(
    make_app: Any,
) -> None:
    from examples.host_app import db

    app = make_app(FIDES_OAUTH_KEY_ENCRYPTION_KEY=KEK)
    OAuth(app, app.test_client()).root_token()
    before = _stored(app)
    with app.app_context():
        engine = app.extensions["fides_oauth"].core.store.engine
        wrong = KeyStore(None, engine, retention=3600, sealer=KeySealer([OTHER_KEK]))
        with pytest.raises(SealError):
            wrong.rotate()
        db.session.remove()
    assert _stored(app) == before  # no key sealed under the wrong KEK


def test_a_key_stored_in_the_clear_by_an_earlier_release_is_sealed(
    make_app: Any,
) -> None:
    from examples.host_app import db

    app = make_app(FIDES_OAUTH_KEY_ENCRYPTION_KEY=KEK)
    legacy = ECKey.generate_key("P-256", private=True, auto_kid=True)
    with app.app_context():
        db.session.add(
            SigningKey(
                kid=legacy.kid,
                generation=1,
                algorithm="ES256",
                sealed_private_key=legacy.as_pem(private=True).decode(),
            )
        )
        db.session.commit()
        db.session.remove()
    token = OAuth(app, app.test_client()).root_token()
    assert token
    (value,) = _stored(app)
    assert value.startswith("v1.")
    for form in _private_forms(legacy):
        assert form.decode("latin-1") not in value


def test_a_moved_or_altered_sealed_key_is_refused(make_app: Any, start: Any) -> None:
    from examples.host_app import db

    app = make_app(FIDES_OAUTH_KEY_ENCRYPTION_KEY=KEK)
    OAuth(app, app.test_client()).root_token()
    with app.app_context():
        db.session.execute(update(SigningKey).values(kid="another-kid"))
        db.session.commit()
        db.session.remove()
    with pytest.raises(SealError, match="integrity"):
        start(FIDES_OAUTH_KEY_ENCRYPTION_KEY=KEK)


@pytest.mark.parametrize("value", ["short", ["ok-but-" * 3, 42], [], 7])
def test_malformed_key_encryption_key_fails_start_up(start: Any, value: Any) -> None:
    with pytest.raises(RuntimeError, match="FIDES_OAUTH_KEY_ENCRYPTION_KEY"):
        start(FIDES_OAUTH_KEY_ENCRYPTION_KEY=value)


def test_repr_shows_no_secret() -> None:
    from fides_oauth.config import load_config

    _, secrets = load_config(
        {
            "FIDES_OAUTH_ROOT_CLIENT_ID": ROOT_ID,
            "FIDES_OAUTH_ROOT_CLIENT_SECRET": ROOT_SECRET,
            "FIDES_OAUTH_KEY_ENCRYPTION_KEY": KEK,
        }
    )
    assert ROOT_SECRET not in repr(secrets) and KEK not in repr(secrets)


def test_reseal_keys_command(make_app: Any) -> None:
    app = make_app(FIDES_OAUTH_KEY_ENCRYPTION_KEY=[KEK, OTHER_KEK])
    OAuth(app, app.test_client()).root_token()
    result = app.test_cli_runner().invoke(args=["fides-oauth", "reseal-keys"])
    assert result.exit_code == 0, result.output
    assert "Re-sealed 0 signing keys" in result.output
