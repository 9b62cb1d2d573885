"""The security invariants (CONTRACT §6), each pinned by a test that fails
when the invariant is broken."""

from __future__ import annotations

import hmac
import logging
import secrets
from pathlib import Path
from typing import Any

import bcrypt
import pytest
from flask import Flask
from sqlalchemy import MetaData
from sqlalchemy import select

from examples.host_app import db
from fides_oauth.models import OAuthClient
from tests.conftest import NAMED_SCOPES
from tests.conftest import ROOT_ID
from tests.conftest import ROOT_SECRET
from tests.conftest import OAuth
from tests.conftest import basic
from tests.conftest import bearer

CLIENTS = "/api/v1/oauth/client"
TOKEN = "/api/v1/oauth/token"
SCOPES = "/api/v1/oauth/scope"


def _post_token(oauth: OAuth, client_id: str, secret: str, **extra: str) -> Any:
    return oauth.http.post(
        TOKEN, data={"client_id": client_id, "client_secret": secret, **extra}
    )


def _full_flow(oauth: OAuth) -> tuple[list[str], list[str]]:
    """Create, authenticate both ways, call, rotate, fail: (secrets, tokens)."""
    secrets_seen = [ROOT_SECRET]
    tokens: list[str] = []
    root = oauth.root_token()
    tokens.append(root)
    headers = bearer(root)
    first = oauth.create_client(["policy:read", "rule:read"], headers, name="reports")
    second = oauth.create_client(["rule:read", "client:read"], headers)
    secrets_seen += [first["client_secret"], second["client_secret"]]

    by_basic = oauth.http.post(
        TOKEN,
        data={"grant_type": "client_credentials"},
        headers=basic(first["client_id"], first["client_secret"]),
    )
    assert by_basic.status_code == 200
    tokens.append(by_basic.get_json()["access_token"])
    by_post = _post_token(oauth, second["client_id"], second["client_secret"])
    assert by_post.status_code == 200
    tokens.append(by_post.get_json()["access_token"])

    assert (
        oauth.http.get("/api/v1/policy", headers=bearer(tokens[1])).status_code == 200
    )
    assert oauth.http.get(CLIENTS, headers=bearer(tokens[2])).status_code == 200
    assert (
        oauth.http.get("/api/v1/policy", headers=bearer(tokens[2])).status_code == 403
    )

    rotated = oauth.http.post(f"{CLIENTS}/{first['client_id']}/secret", headers=headers)
    assert rotated.status_code == 200
    new_secret = rotated.get_json()["client_secret"]
    secrets_seen.append(new_secret)
    tokens.append(oauth.token(first["client_id"], new_secret))

    # Failed authentications that carry real secrets.
    assert (
        _post_token(oauth, first["client_id"], first["client_secret"]).status_code
        == 401
    )
    assert _post_token(oauth, "0" * 32, new_secret).status_code == 401
    assert _post_token(oauth, "nobody", ROOT_SECRET).status_code == 401
    assert _post_token(oauth, ROOT_ID, second["client_secret"]).status_code == 401
    assert (
        oauth.http.post(
            TOKEN, headers=basic(second["client_id"], second["client_secret"] + "x")
        ).status_code
        == 401
    )
    assert (
        _post_token(
            oauth, second["client_id"], second["client_secret"], scope="policy:read"
        ).status_code
        == 400
    )
    tampered = tokens[1][:-4] + ("AAAA" if not tokens[1].endswith("AAAA") else "BBBB")
    assert oauth.http.get("/api/v1/policy", headers=bearer(tampered)).status_code == 401
    return secrets_seen, tokens


def _database_files(app: Flask) -> list[Path]:
    """The SQLite file and its journals; none on a server database, where
    every reflected row is still searched."""
    uri = app.config["SQLALCHEMY_DATABASE_URI"]
    if not uri.startswith("sqlite:///"):
        return []
    path = Path(uri[len("sqlite:///") :])
    return [p for p in path.parent.iterdir() if p.name.startswith(path.name)]


def _every_row(app: Flask) -> list[str]:
    with app.app_context():
        engine = db.engine
        reflected = MetaData()
        reflected.reflect(bind=engine)
        rows: list[str] = []
        with engine.connect() as connection:
            for table in reflected.sorted_tables:
                rows += [repr(tuple(row)) for row in connection.execute(select(table))]
        db.session.remove()
    return rows


# -- no plaintext secret in the database -------------------------------------


def test_database_holds_no_secret_and_no_token(oauth: OAuth) -> None:
    secrets_seen, tokens = _full_flow(oauth)
    rows = _every_row(oauth.app)
    assert any("$2b$" in row for row in rows)  # the reading works
    files = _database_files(oauth.app)
    if oauth.app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite:///"):
        assert files
    raw = b"".join(path.read_bytes() for path in files)
    for value in secrets_seen + tokens:
        assert value.encode() not in raw
        assert all(value not in row for row in rows)
    for token in tokens:  # nor the token's signature on its own
        signature = token.rsplit(".", 1)[1]
        assert signature.encode() not in raw


def test_stored_secrets_are_bcrypt_hashes_of_the_current_secret(oauth: OAuth) -> None:
    headers = oauth.root_headers()
    kept = oauth.create_client(["rule:read"], headers)
    rotated = oauth.create_client(["policy:read"], headers)
    response = oauth.http.post(
        f"{CLIENTS}/{rotated['client_id']}/secret", headers=headers
    )
    new_secret = response.get_json()["client_secret"]
    stored = {row[0]: row[1] for row in oauth.snapshot()}
    assert set(stored) == {kept["client_id"], rotated["client_id"]}
    for hashed in stored.values():
        assert hashed.startswith("$2b$")
    assert bcrypt.checkpw(
        kept["client_secret"].encode(), stored[kept["client_id"]].encode()
    )
    assert bcrypt.checkpw(new_secret.encode(), stored[rotated["client_id"]].encode())
    assert not bcrypt.checkpw(
        rotated["client_secret"].encode(), stored[rotated["client_id"]].encode()
    )


# -- no secret or token in logs ----------------------------------------------


def test_logs_hold_no_secret_and_no_token(
    oauth: OAuth, caplog: pytest.LogCaptureFixture
) -> None:
    # set_level also sets the capture handler's level: the DEBUG ones go last.
    caplog.set_level(logging.INFO, logger="sqlalchemy.engine")
    caplog.set_level(logging.DEBUG, logger="fides_oauth")
    caplog.set_level(logging.DEBUG, logger="authlib")
    caplog.set_level(logging.DEBUG)
    secrets_seen, tokens = _full_flow(oauth)
    records = caplog.records
    # The capture works: SQLAlchemy's statements and Authlib's DEBUG lines.
    assert any(record.name.startswith("sqlalchemy.engine") for record in records)
    assert any(
        record.name.startswith("authlib") and record.levelno == logging.DEBUG
        for record in records
    )
    for record in records:
        texts = [record.getMessage(), repr(record.args), str(record.exc_text or "")]
        for value in secrets_seen + tokens:
            for text in texts:
                assert value not in text, (record.name, record.msg)
        if record.name.startswith(("authlib", "fides_oauth")):
            # The library's own lines show no hash either (Authlib logs clients).
            assert all("$2b$" not in text for text in texts), (record.name, record.msg)


# -- no secret in any repr ---------------------------------------------------


def test_reprs_show_no_secret_and_no_hash(oauth: OAuth) -> None:
    created = oauth.create_client(["rule:read"], name="n", description="d")
    state = oauth.app.extensions["fides_oauth"]
    with oauth.app.test_request_context():
        record = state.core.store.find_client(created["client_id"])
        assert record is not None
        row = db.session.get(OAuthClient, created["client_id"])
        assert row is not None
        hashed = row.secret_hash
        shown = [
            repr(state),
            str(state),
            repr(state.core.config),
            repr(state.core.root),
            repr(record),
            str(record),
            repr(row),
            str(row),
            repr(state.core.hasher),
        ]
        db.session.remove()
    for text in shown:
        assert created["client_secret"] not in text
        assert ROOT_SECRET not in text
        assert hashed not in text
        assert state.core.root.secret_hash not in text
        assert "$2" not in text


def test_repr_of_a_configured_signing_key_hides_it(make_app: Any) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    app = make_app(FIDES_OAUTH_SIGNING_KEY=pem)
    state = app.extensions["fides_oauth"]
    body = pem.splitlines()[1]
    assert body not in repr(state.core.config)
    assert body not in repr(state)


# -- the secret is returned once ---------------------------------------------


def _every_read(oauth: OAuth, client_id: str, headers: dict[str, str]) -> str:
    urls = [
        CLIENTS,
        f"{CLIENTS}/{client_id}",
        f"{CLIENTS}/{client_id}/scope",
        SCOPES,
        f"{CLIENTS}?size=100",
    ]
    texts = []
    for url in urls:
        response = oauth.http.get(url, headers=headers)
        assert response.status_code == 200
        texts.append(response.get_data(as_text=True))
    return "\n".join(texts)


def test_secret_is_shown_at_creation_and_rotation_only(oauth: OAuth) -> None:
    headers = oauth.root_headers()
    created = oauth.create_client(["rule:read"], headers, name="once")
    assert created["client_secret"]
    seen = _every_read(oauth, created["client_id"], headers)
    assert created["client_secret"] not in seen
    assert '"client_secret"' not in seen  # the field, not a method name

    rotation = oauth.http.post(
        f"{CLIENTS}/{created['client_id']}/secret", headers=headers
    )
    new_secret = rotation.get_json()["client_secret"]
    assert created["client_secret"] not in rotation.get_data(as_text=True)
    changed = oauth.http.put(
        f"{CLIENTS}/{created['client_id']}", json={"name": "x"}, headers=headers
    )
    assert new_secret not in changed.get_data(as_text=True)
    seen = _every_read(oauth, created["client_id"], headers)
    assert new_secret not in seen
    assert '"client_secret"' not in seen


# -- unknown client ids cost a bcrypt check, and look like wrong secrets -------


@pytest.fixture
def checkpw_calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[bytes, bytes]]:
    calls: list[tuple[bytes, bytes]] = []
    real = bcrypt.checkpw  # the module fides_oauth.hashing calls through

    def counting(password: bytes, hashed: bytes) -> bool:
        calls.append((password, hashed))
        return bool(real(password, hashed))

    monkeypatch.setattr("fides_oauth.hashing.bcrypt.checkpw", counting)
    return calls


def test_every_failed_login_costs_one_bcrypt_check_and_looks_alike(
    oauth: OAuth, checkpw_calls: list[tuple[bytes, bytes]]
) -> None:
    created = oauth.create_client(["rule:read"])
    client_id, secret = created["client_id"], created["client_secret"]
    cases = {
        "unknown id": {"client_id": "0" * 32, "client_secret": secret},
        "malformed id": {"client_id": "no such client!", "client_secret": secret},
        "wrong secret": {"client_id": client_id, "client_secret": "wrong-" + secret},
        "over 72 bytes": {
            "client_id": client_id,
            "client_secret": secret.ljust(80, "x"),
        },
        "wrong root secret": {"client_id": ROOT_ID, "client_secret": "x" * 32},
    }
    bodies = {}
    for name, data in cases.items():
        del checkpw_calls[:]
        response = oauth.http.post(TOKEN, data=data)
        assert response.status_code == 401, name
        assert len(checkpw_calls) == 1, name
        bodies[name] = response.get_json()
    for name, (cid, sec) in {
        "basic unknown id": ("0" * 32, secret),
        "basic wrong secret": (client_id, "wrong-" + secret),
    }.items():
        del checkpw_calls[:]
        response = oauth.http.post(TOKEN, headers=basic(cid, sec))
        assert response.status_code == 401, name
        assert len(checkpw_calls) == 1, name
        bodies[name] = response.get_json()
    first = bodies["unknown id"]
    assert first["error"] == "invalid_client"
    for name, body in bodies.items():
        assert (body["error"], body["error_description"]) == (
            first["error"],
            first["error_description"],
        ), name
        assert client_id not in str(body)
    # And a success costs the same single check.
    del checkpw_calls[:]
    assert _post_token(oauth, client_id, secret).status_code == 200
    assert len(checkpw_calls) == 1


def test_unknown_and_existing_ids_get_identical_answers_with_basic(
    oauth: OAuth,
) -> None:
    created = oauth.create_client(["rule:read"])
    unknown = oauth.http.post(TOKEN, headers=basic("f" * 32, "some-secret"))
    wrong = oauth.http.post(TOKEN, headers=basic(created["client_id"], "some-secret"))
    assert unknown.status_code == wrong.status_code == 401
    assert unknown.get_json() == wrong.get_json()
    assert unknown.headers.get("WWW-Authenticate") == wrong.headers.get(
        "WWW-Authenticate"
    )


# -- constant-time comparisons ------------------------------------------------


def test_root_id_is_compared_with_compare_digest(
    oauth: OAuth, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[Any, Any]] = []
    real = hmac.compare_digest

    def spy(a: Any, b: Any) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr("fides_oauth.store.hmac.compare_digest", spy)
    assert _post_token(oauth, ROOT_ID, ROOT_SECRET).status_code == 200
    assert any(ROOT_ID.encode() in (a, b) for a, b in calls)
    calls.clear()
    assert _post_token(oauth, ROOT_ID[:-1] + "X", ROOT_SECRET).status_code == 401
    assert any(ROOT_ID.encode() in (a, b) for a, b in calls)


def test_secrets_are_checked_by_bcrypt_checkpw(
    oauth: OAuth, checkpw_calls: list[tuple[bytes, bytes]]
) -> None:
    assert _post_token(oauth, ROOT_ID, ROOT_SECRET).status_code == 200
    assert [password for password, _ in checkpw_calls] == [ROOT_SECRET.encode()]
    created = oauth.create_client(["rule:read"])
    checkpw_calls.clear()
    assert (
        _post_token(oauth, created["client_id"], created["client_secret"]).status_code
        == 200
    )
    assert len(checkpw_calls) == 1
    password, hashed = checkpw_calls[0]
    assert password == created["client_secret"].encode()
    assert hashed == oauth.snapshot()[0][1].encode()


# -- the root client -----------------------------------------------------------


def test_root_token_holds_every_registered_scope(oauth: OAuth) -> None:
    headers = oauth.root_headers()
    registered = oauth.http.get(SCOPES, headers=headers).get_json()
    token = _post_token(oauth, ROOT_ID, ROOT_SECRET).get_json()
    assert sorted(token["scope"].split()) == registered
    assert registered == sorted(oauth.app.extensions["fides_oauth"].core.registry.all)
    assert set(registered) >= NAMED_SCOPES
    for route in ("/api/v1/policy", "/api/v1/rule", CLIENTS):
        assert oauth.http.get(route, headers=headers).status_code == 200
    created = oauth.create_client(registered, headers)
    assert created["scopes"] == registered


def test_root_client_is_not_in_the_store(oauth: OAuth) -> None:
    headers = oauth.root_headers()
    oauth.create_client(["rule:read"], headers)
    assert ROOT_ID not in [row[0] for row in oauth.snapshot()]
    listed = oauth.http.get(CLIENTS, headers=headers).get_json()
    assert ROOT_ID not in [item["client_id"] for item in listed["items"]]
    assert listed["total"] == 1


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "", None),
        ("PUT", "", {"name": "mine"}),
        ("PUT", "", {"scopes": []}),
        ("DELETE", "", None),
        ("POST", "/secret", None),
        ("GET", "/scope", None),
        ("PUT", "/scope", []),
    ],
)
def test_root_client_answers_404_on_every_client_route(
    oauth: OAuth, method: str, path: str, body: Any
) -> None:
    headers = oauth.root_headers()
    before = oauth.snapshot()
    response = oauth.http.open(
        f"{CLIENTS}/{ROOT_ID}{path}", method=method, json=body, headers=headers
    )
    assert response.status_code == 404
    assert response.mimetype == "application/json"
    assert set(response.get_json()) >= {"error", "error_description"}
    assert "client_secret" not in response.get_json()
    assert oauth.snapshot() == before
    # The root is untouched: same secret, every scope.
    token = _post_token(oauth, ROOT_ID, ROOT_SECRET)
    assert token.status_code == 200
    registry = oauth.app.extensions["fides_oauth"].core.registry
    assert sorted(token.get_json()["scope"].split()) == sorted(registry.all)


def test_root_with_a_stored_client_shaped_id_is_still_404(make_app: Any) -> None:
    # Fides-style ids are 32 hex characters; a root id of that shape is
    # refused by the client routes too, not looked up and not changed.
    root_id = "ab" * 16
    app = make_app(FIDES_OAUTH_ROOT_CLIENT_ID=root_id)
    http = app.test_client()
    token = http.post(TOKEN, data={"client_id": root_id, "client_secret": ROOT_SECRET})
    headers = bearer(token.get_json()["access_token"])
    url = f"{CLIENTS}/{root_id}"
    assert http.get(url, headers=headers).status_code == 404
    assert http.put(url, json={"name": "x"}, headers=headers).status_code == 404
    assert http.post(url + "/secret", headers=headers).status_code == 404
    assert http.get(url + "/scope", headers=headers).status_code == 404
    assert http.put(url + "/scope", json=[], headers=headers).status_code == 404
    assert http.delete(url, headers=headers).status_code == 404
    again = http.post(TOKEN, data={"client_id": root_id, "client_secret": ROOT_SECRET})
    assert again.status_code == 200


# -- scope containment on create (CVE-2025-57817) ------------------------------


def test_creator_can_grant_only_scopes_it_holds(oauth: OAuth) -> None:
    _, _, headers = oauth.client_with(["client:create", "rule:read"])
    allowed = oauth.http.post(CLIENTS, json=["rule:read"], headers=headers)
    assert allowed.status_code == 200
    for wanted in (["policy:read"], ["rule:read", "client:delete"], ["client:delete"]):
        before = oauth.snapshot()
        response = oauth.http.post(CLIENTS, json=wanted, headers=headers)
        assert response.status_code == 403
        body = response.get_json()
        missing = [name for name in wanted if name != "rule:read"]
        for name in missing:
            assert name in body["error_description"]
        assert "client_secret" not in body
        assert oauth.snapshot() == before


def test_created_client_cannot_create_a_stronger_one(oauth: OAuth) -> None:
    _, _, first = oauth.client_with(["client:create", "rule:read", "policy:read"])
    second = oauth.create_client(["client:create", "rule:read"], first)
    token = oauth.token(second["client_id"], second["client_secret"])
    before = oauth.snapshot()
    response = oauth.http.post(
        CLIENTS, json=["rule:read", "policy:read"], headers=bearer(token)
    )
    assert response.status_code == 403
    assert "policy:read" in response.get_json()["error_description"]
    assert oauth.snapshot() == before
    # Its equal is fine.
    same = oauth.http.post(
        CLIENTS, json=["client:create", "rule:read"], headers=bearer(token)
    )
    assert same.status_code == 200


def test_a_narrowed_token_grants_only_what_it_carries(oauth: OAuth) -> None:
    narrowed = oauth.token(ROOT_ID, ROOT_SECRET, scope="client:create rule:read")
    headers = bearer(narrowed)
    assert (
        oauth.http.post(CLIENTS, json=["rule:read"], headers=headers).status_code == 200
    )
    before = oauth.snapshot()
    response = oauth.http.post(CLIENTS, json=["policy:read"], headers=headers)
    assert response.status_code == 403
    assert "policy:read" in response.get_json()["error_description"]
    assert oauth.snapshot() == before


# -- a weaker client cannot take over a stronger one ---------------------------


def test_client_update_alone_cannot_take_over_a_client_creator(oauth: OAuth) -> None:
    target = oauth.create_client(["client:create"], name="admin")
    _, _, headers = oauth.client_with(["client:update", "client:delete"])
    url = f"{CLIENTS}/{target['client_id']}"
    before = oauth.snapshot()
    attempts: list[tuple[str, str, Any]] = [
        ("POST", "/secret", None),
        ("PUT", "", {"name": "owned"}),
        ("PUT", "", {"scopes": []}),
        ("PUT", "/scope", []),
        ("DELETE", "", None),
    ]
    for method, path, body in attempts:
        response = oauth.http.open(
            url + path, method=method, json=body, headers=headers
        )
        assert response.status_code == 403, (method, path)
        assert response.mimetype == "application/json"
        assert "client:create" in response.get_json()["error_description"]
        assert "client_secret" not in response.get_json()
    assert oauth.snapshot() == before
    assert (
        _post_token(oauth, target["client_id"], target["client_secret"]).status_code
        == 200
    )


# -- bcrypt's 72-byte limit ----------------------------------------------------


def test_secret_longer_than_72_bytes_does_not_match_its_prefix(make_app: Any) -> None:
    # A 72-byte root secret: bcrypt reads all of it, and ignores anything after.
    root_secret = secrets.token_hex(36)
    assert len(root_secret.encode()) == 72
    app = make_app(FIDES_OAUTH_ROOT_CLIENT_SECRET=root_secret)
    http = app.test_client()

    def status(secret: str) -> int:
        response = http.post(
            TOKEN, data={"client_id": ROOT_ID, "client_secret": secret}
        )
        return int(response.status_code)

    assert status(root_secret) == 200
    assert status(root_secret + "x") == 401
    assert status(root_secret + root_secret) == 401
    response = http.post(TOKEN, headers=basic(ROOT_ID, root_secret + "tail"))
    assert response.status_code == 401
    assert response.get_json()["error"] == "invalid_client"
