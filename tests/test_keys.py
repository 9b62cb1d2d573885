"""The signing key: configured, or generated once and shared through the database."""

from __future__ import annotations

import base64
import json
import threading
from typing import Any

from joserfc import jwt
from joserfc.jwk import ECKey
from sqlalchemy import create_engine
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.orm import Session

from fides_oauth.keys import KeyStore
from fides_oauth.models import SigningKey
from fides_oauth.models import metadata
from fides_oauth.sealing import KeySealer
from tests.conftest import ROOT_ID
from tests.conftest import ROOT_SECRET
from tests.conftest import TEST_DATABASE_URL
from tests.conftest import OAuth
from tests.conftest import bearer

TOKEN = "/api/v1/oauth/token"


def _kid(token: str) -> str:
    part = token.split(".")[0]
    return str(
        json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))["kid"]
    )


def _stored_keys(app: Any) -> list[SigningKey]:
    from examples.host_app import db

    with app.app_context():
        keys = list(db.session.scalars(select(SigningKey)).all())
        db.session.remove()
    return keys


def test_generated_key_is_stored_once_and_shared_by_apps_on_one_database(
    make_app: Any,
) -> None:
    first, second = make_app(), make_app()
    token = OAuth(first, first.test_client()).root_token()
    # A second app (another worker, a restart) verifies with the same key.
    response = second.test_client().get("/api/v1/policy", headers=bearer(token))
    assert response.status_code == 200
    other = OAuth(second, second.test_client()).root_token()
    assert _kid(other) == _kid(token)
    stored = _stored_keys(first)
    assert [key.kid for key in stored] == [_kid(token)]
    assert stored[0].algorithm == "ES256"


def test_configured_key_signs_and_nothing_is_stored(make_app: Any) -> None:
    key = ECKey.generate_key("P-256", private=True)
    pem = key.as_pem(private=True).decode()
    app = make_app(FIDES_OAUTH_SIGNING_KEY=pem)
    token = OAuth(app, app.test_client()).root_token()
    public = ECKey.import_key(key.as_dict(private=False))
    decoded = jwt.decode(token, public, algorithms=["ES256"])
    assert decoded.claims["client_id"] == ROOT_ID
    assert _stored_keys(app) == []


def test_rsa_key_is_refused(tmp_path: Any) -> None:
    import pytest
    from joserfc.jwk import RSAKey

    from examples.host_app import create_app
    from tests.conftest import base_config

    pem = RSAKey.generate_key(2048, private=True).as_pem(private=True).decode()
    with pytest.raises(RuntimeError, match="P-256"):
        create_app(base_config(tmp_path) | {"FIDES_OAUTH_SIGNING_KEY": pem})


def test_private_key_never_leaves_in_a_response(make_app: Any) -> None:
    app = make_app()
    http = app.test_client()
    oauth = OAuth(app, http)
    token = oauth.root_token()
    with app.app_context():
        signing = app.extensions["fides_oauth"].core.keys.signing_key()
    private_d = signing.as_dict(private=True)["d"]
    bodies = [
        http.post(
            TOKEN, data={"client_id": ROOT_ID, "client_secret": ROOT_SECRET}
        ).data,
        http.get("/api/v1/oauth/client", headers=bearer(token)).data,
        http.get("/api/v1/oauth/scope", headers=bearer(token)).data,
    ]
    for body in bodies:
        assert private_d.encode() not in body
        assert b"PRIVATE KEY" not in body


def test_workers_starting_at_once_agree_on_one_key(tmp_path: Any) -> None:
    url = TEST_DATABASE_URL or f"sqlite:///{tmp_path / 'keys.sqlite'}"
    engine = create_engine(url)
    metadata.drop_all(engine)
    metadata.create_all(engine)
    try:
        sealer = KeySealer(["key-encryption-key-for-tests"])
        stores = [
            KeyStore(None, lambda: engine, retention=3600, sealer=sealer)
            for _ in range(4)
        ]
        barrier = threading.Barrier(len(stores))
        kids: list[str] = []

        def start(store: KeyStore) -> None:
            barrier.wait()
            kids.append(store.signing_key().kid)

        threads = [threading.Thread(target=start, args=(s,)) for s in stores]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(kids) == 4 and len(set(kids)) == 1
        with Session(engine) as session:
            assert session.scalar(select(func.count()).select_from(SigningKey)) == 1
    finally:
        metadata.drop_all(engine)
        engine.dispose()
