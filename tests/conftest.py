"""Apps built by the reference host's factory on a temporary database.

The database is a fresh SQLite file per test, or — when
FIDES_OAUTH_TEST_DATABASE_URL is set (e.g.
``postgresql+psycopg://postgres@127.0.0.1:5432/test``) — that database,
whose library tables are dropped and created around every test.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import time
import uuid
from collections.abc import Callable
from collections.abc import Iterator
from typing import Any
from typing import ClassVar

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck
from hypothesis import settings
from sqlalchemy import create_engine
from sqlalchemy import select
from sqlalchemy.orm import scoped_session
from sqlalchemy.orm import sessionmaker

from examples.host_app import create_app
from examples.host_app import db
from fides_oauth import FidesOAuth
from fides_oauth import create_tables
from fides_oauth import drop_tables
from fides_oauth.models import OAuthClient
from fides_oauth.settings import SETTINGS

# Property tests stay bounded so the whole suite runs in CI in seconds;
# HYPOTHESIS_PROFILE=thorough digs deeper on demand.
settings.register_profile(
    "default",
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
settings.register_profile(
    "thorough",
    max_examples=1000,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

#: The contract's built-in scopes and the reference host's own.
NAMED_SCOPES = frozenset(
    {
        "client:create",
        "client:read",
        "client:update",
        "client:delete",
        "scope:read",
        "policy:read",
        "policy:create_or_update",
        "rule:read",
        "rule:create_or_update",
    }
)

ROOT_ID = "root-client-for-tests"
ROOT_SECRET = "root-secret-for-tests-0123456789"
KEY_ENCRYPTION_KEY = "key-encryption-key-for-the-tests-0123456789"
TEST_DATABASE_URL = os.environ.get("FIDES_OAUTH_TEST_DATABASE_URL")

# The reference host reads library settings from the environment: a shell's
# exported FIDES_OAUTH_INVALIDATION (say) must not change what the suite
# tests. Tests that want one set it on the app or the server they start.
for _setting in SETTINGS:
    os.environ.pop(_setting.key, None)
#: The Redis the shared-state tests use: its own database number, flushed
#: around each test. Set to empty to skip them (they fail when it is
#: unreachable otherwise).
TEST_REDIS_URL = os.environ.get(
    "FIDES_OAUTH_TEST_REDIS_URL", "redis://127.0.0.1:6379/15"
)


def database_url(tmp_path: Any, name: str = "oauth.sqlite") -> str:
    return TEST_DATABASE_URL or f"sqlite:///{tmp_path / name}"


def base_config(tmp_path: Any) -> dict[str, Any]:
    return {
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": database_url(tmp_path),
        "FIDES_OAUTH_ROOT_CLIENT_ID": ROOT_ID,
        "FIDES_OAUTH_ROOT_CLIENT_SECRET": ROOT_SECRET,
        "FIDES_OAUTH_KEY_ENCRYPTION_KEY": KEY_ENCRYPTION_KEY,
        "FIDES_OAUTH_BCRYPT_ROUNDS": 4,
    }


class FakeClock:
    """The library's clock, moved by hand: ``clock.advance(3601)``."""

    def __init__(self) -> None:
        import time

        # Starts at the real time, so the tokens' times look ordinary.
        self.now = time.time()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def storage_uri() -> str | None:
    """The shared state of the apps a test builds: None, the SQL database.
    A module that runs its tests on both stores overrides this fixture with
    ``any_store``."""
    return None


@pytest.fixture(params=["sql", pytest.param("redis", marks=pytest.mark.redis)])
def any_store(request: pytest.FixtureRequest) -> Iterator[str | None]:
    """Each test twice: on the SQL shared state and on Redis."""
    if request.param == "sql":
        yield None
        return
    if not TEST_REDIS_URL:
        pytest.skip("FIDES_OAUTH_TEST_REDIS_URL is set to empty: no Redis tests")
    import redis

    client = redis.Redis.from_url(TEST_REDIS_URL, socket_connect_timeout=5)
    try:
        client.flushdb()  # this database number only
    except redis.RedisError as exc:
        pytest.fail(
            f"Redis is unreachable at {TEST_REDIS_URL} ({exc}). Start it, point "
            "FIDES_OAUTH_TEST_REDIS_URL elsewhere, or set it to empty to skip."
        )
    yield TEST_REDIS_URL
    client.flushdb()
    client.close()


@pytest.fixture
def make_app(tmp_path: Any, storage_uri: str | None) -> Iterator[Callable[..., Flask]]:
    """Build reference-host apps: ``make_app(**config_overrides)``."""
    built: list[Flask] = []
    storage = {"FIDES_OAUTH_STORAGE_URI": storage_uri} if storage_uri else {}

    def factory(clock: Any = None, telemetry: Any = None, **overrides: Any) -> Flask:
        options: dict[str, Any] = {"clock": clock} if clock is not None else {}
        if telemetry is not None:
            options["telemetry"] = telemetry
        app = create_app(
            base_config(tmp_path) | storage | overrides, oauth_options=options
        )
        with app.app_context():  # a clean store, on a shared database too
            drop_tables()
            create_tables()
        built.append(app)
        return app

    yield factory
    for app in built:
        with app.app_context():
            db.session.remove()
            drop_tables()
            db.engine.dispose()
        shared = app.extensions["fides_oauth"].core.limiter.shared
        if hasattr(shared, "close"):
            shared.close()


@pytest.fixture
def app(make_app: Callable[..., Flask]) -> Flask:
    return make_app()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def basic(client_id: str, secret: str | bytes) -> dict[str, str]:
    raw = secret if isinstance(secret, bytes) else secret.encode()
    value = base64.b64encode(client_id.encode() + b":" + raw).decode()
    return {"Authorization": f"Basic {value}"}


class OAuth:
    """Helpers for "a client with these scopes" and "its bearer header"."""

    def __init__(self, app: Flask, http: FlaskClient, prefix: str = "/api/v1") -> None:
        self.app = app
        self.http = http
        self.prefix = prefix

    def url(self, path: str) -> str:
        return self.prefix + path

    def token(self, client_id: str, secret: str, scope: str | None = None) -> str:
        data = {"client_id": client_id, "client_secret": secret}
        if scope is not None:
            data["scope"] = scope
        response = self.http.post(self.url("/oauth/token"), data=data)
        assert response.status_code == 200, response.get_json()
        return str(response.get_json()["access_token"])

    def root_token(self) -> str:
        return self.token(ROOT_ID, ROOT_SECRET)

    def root_headers(self) -> dict[str, str]:
        return bearer(self.root_token())

    def create_client(
        self, scopes: list[str], headers: dict[str, str] | None = None, **fields: Any
    ) -> dict[str, Any]:
        body: Any = {"scopes": scopes, **fields} if fields else scopes
        response = self.http.post(
            self.url("/oauth/client"), json=body, headers=headers or self.root_headers()
        )
        assert response.status_code == 200, response.get_json()
        return dict(response.get_json())

    def client_with(self, scopes: list[str]) -> tuple[str, str, dict[str, str]]:
        """A new client holding ``scopes``: its id, secret and bearer header."""
        created = self.create_client(scopes)
        token = self.token(created["client_id"], created["client_secret"])
        return created["client_id"], created["client_secret"], bearer(token)

    def snapshot(self) -> list[tuple[Any, ...]]:
        """Every stored client row, every column (id and secret hash first),
        to compare before and after a request."""
        with self.app.app_context():
            rows = db.session.execute(
                select(OAuthClient.__table__).order_by(OAuthClient.id)
            ).all()
            db.session.remove()
        return [tuple(row) for row in rows]


@pytest.fixture
def oauth(app: Flask, client: FlaskClient) -> OAuth:
    return OAuth(app, client)


@pytest.fixture
def make_plain_app(tmp_path: Any) -> Iterator[Callable[..., Flask]]:
    """Apps on plain SQLAlchemy: an engine and a scoped_session, no Flask-SQLAlchemy."""
    cleanups: list[Callable[[], None]] = []

    def factory(prefix: str = "/oauth-api", **overrides: Any) -> Flask:
        engine = create_engine(database_url(tmp_path, "plain.sqlite"))
        session = scoped_session(sessionmaker(bind=engine))
        app = Flask("plain_host")
        app.config.update(
            {k: v for k, v in base_config(tmp_path).items() if "SQLALCHEMY" not in k}
            | overrides
        )
        app.register_blueprint(
            FidesOAuth(session=session, scopes=["report:read"]), url_prefix=prefix
        )
        app.teardown_appcontext(lambda exc: session.remove())
        drop_tables(app)
        create_tables(app)

        def cleanup() -> None:
            session.remove()
            drop_tables(app)
            engine.dispose()

        cleanups.append(cleanup)
        return app

    yield factory
    for cleanup in cleanups:
        cleanup()


@pytest.fixture
def live_server(app: Flask) -> Iterator[str]:
    """The reference host served on 127.0.0.1 over a real socket; its base URL."""
    import threading

    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)


@pytest.fixture
def bcrypt_checks(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """The hashes ``bcrypt.checkpw`` is called with, as fides_oauth calls it."""
    import bcrypt

    calls: list[bytes] = []
    real = bcrypt.checkpw

    def counting(password: bytes, hashed: bytes) -> bool:
        calls.append(hashed)
        return real(password, hashed)

    monkeypatch.setattr("fides_oauth.hashing.bcrypt.checkpw", counting)
    return calls


def assert_error(
    response: Any, status: int, error: str | None = None
) -> dict[str, Any]:
    """A JSON error answer of the RFC 6749 §5.2 shape (with ``error`` as
    given, when given); its body."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    body = dict(response.get_json())
    assert isinstance(body["error"], str) and body["error"]
    assert isinstance(body["error_description"], str) and body["error_description"]
    if error is not None:
        assert body["error"] == error, body
    return body


class AuditRecorder:
    """An audit sink that keeps what it is given."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def __call__(self, event: str, **fields: Any) -> None:
        self.events.append({"event": event, **fields})

    def names(self) -> list[str]:
        return [event["event"] for event in self.events]


@pytest.fixture
def core_kit(tmp_path: Any, clock: FakeClock) -> Iterator[Any]:
    """The library's core on a database, built and used with no Flask app:
    ``(core, audit recorder, session factory)``."""
    from fides_oauth.clients import ClientRecord
    from fides_oauth.config import load_config
    from fides_oauth.core import Core
    from fides_oauth.hashing import SecretHasher
    from fides_oauth.models import ChangeCounter
    from fides_oauth.models import metadata
    from fides_oauth.scopes import ScopeRegistry
    from fides_oauth.sealing import KeySealer
    from fides_oauth.store import Store

    engine = create_engine(database_url(tmp_path, "core.sqlite"))
    metadata.drop_all(engine)
    metadata.create_all(engine)
    with engine.begin() as connection:
        connection.execute(ChangeCounter.__table__.insert().values(id=1, counter=0))
    session = scoped_session(sessionmaker(bind=engine))
    settings, secrets = load_config(base_config(tmp_path))
    registry = ScopeRegistry(["policy:read", "rule:read"])
    hasher = SecretHasher(4)
    root = ClientRecord(ROOT_ID, hasher.hash(ROOT_SECRET), registry.all, is_root=True)
    audit = AuditRecorder()
    core = Core.build(
        settings,
        registry,
        hasher,
        Store(session, root),
        None,
        KeySealer(secrets.key_encryption_keys),
        clock=clock,
        audit=audit,
    )
    yield core, audit, session
    session.remove()
    metadata.drop_all(engine)
    engine.dispose()


class Prover:
    """A DPoP key held by a test client, making proofs with PyJWT: a library
    independent of the joserfc that checks them, so the two sides cannot
    share a bug. ``jkt`` is the RFC 7638 thumbprint, computed here from the
    required members in lexicographic order."""

    _MEMBERS: ClassVar[dict[str, tuple[str, ...]]] = {
        "EC": ("crv", "kty", "x", "y"),
        "RSA": ("e", "kty", "n"),
        "OKP": ("crv", "kty", "x"),
    }

    def __init__(self, alg: str = "ES256") -> None:
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.hazmat.primitives.asymmetric import ed25519
        from cryptography.hazmat.primitives.asymmetric import rsa
        from jwt import algorithms

        makers: dict[str, tuple[Callable[[], Any], Any]] = {
            "ES256": (
                lambda: ec.generate_private_key(ec.SECP256R1()),
                algorithms.ECAlgorithm,
            ),
            "ES384": (
                lambda: ec.generate_private_key(ec.SECP384R1()),
                algorithms.ECAlgorithm,
            ),
            "RS256": (
                lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048),
                algorithms.RSAAlgorithm,
            ),
            "PS256": (
                lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048),
                algorithms.RSAPSSAlgorithm,
            ),
            "EdDSA": (ed25519.Ed25519PrivateKey.generate, algorithms.OKPAlgorithm),
        }
        make, algorithm = makers[alg]
        self.alg = alg
        self.private = make()
        self.jwk: dict[str, Any] = json.loads(
            algorithm.to_jwk(self.private.public_key())
        )
        canonical = json.dumps(
            {name: self.jwk[name] for name in self._MEMBERS[self.jwk["kty"]]},
            separators=(",", ":"),
            sort_keys=True,
        )
        self.jkt = _b64url(hashlib.sha256(canonical.encode()).digest())

    def proof(
        self,
        method: str,
        url: str,
        *,
        token: str | None = None,
        header: dict[str, Any] | None = None,
        drop: tuple[str, ...] = (),
        **claims: Any,
    ) -> str:
        """A proof for ``method`` ``url`` (and ``token``); ``claims`` and
        ``header`` override or add members, ``drop`` removes claims."""
        body: dict[str, Any] = {
            "jti": uuid.uuid4().hex,
            "htm": method,
            "htu": url,
            "iat": int(time.time()),
        }
        if token is not None:
            body["ath"] = _b64url(hashlib.sha256(token.encode("ascii")).digest())
        body.update(claims)
        for name in drop:
            body.pop(name, None)
        headers = {"typ": "dpop+jwt", "jwk": self.jwk} | (header or {})
        import jwt as pyjwt

        return pyjwt.encode(body, self.private, algorithm=self.alg, headers=headers)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def dpop(token: str, proof: str) -> dict[str, str]:
    """The headers of a request with a DPoP-bound token."""
    return {"Authorization": f"DPoP {token}", "DPoP": proof}


#: The admin page's path under the reference prefix.
ADMIN = "/api/v1/oauth/admin"


def admin_csrf(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, page
    return found.group(1)


class AdminBrowser:
    """A signed-in admin session on the test client."""

    def __init__(self, http: FlaskClient) -> None:
        self.http = http
        self.csrf = ""

    def sign_in(self, client_id: str, secret: str) -> Any:
        token = admin_csrf(self.http.get(ADMIN + "/").get_data(as_text=True))
        response = self.http.post(
            ADMIN + "/sign-in",
            data={"csrf_token": token, "client_id": client_id, "client_secret": secret},
        )
        if response.status_code == 302:
            page = self.http.get(ADMIN + "/clients").get_data(as_text=True)
            self.csrf = admin_csrf(page)
        return response

    def post(self, path: str, **form: Any) -> Any:
        return self.http.post(ADMIN + path, data={"csrf_token": self.csrf, **form})


@pytest.fixture
def admin_app(make_app: Callable[..., Flask]) -> Flask:
    """The reference host with the admin page on."""
    return make_app(FIDES_OAUTH_ADMIN=True)


@pytest.fixture
def admin_oauth(admin_app: Flask) -> OAuth:
    return OAuth(admin_app, admin_app.test_client())


@pytest.fixture
def admin_root(admin_app: Flask) -> AdminBrowser:
    """The admin page, signed in as the root client."""
    browser = AdminBrowser(admin_app.test_client())
    assert browser.sign_in(ROOT_ID, ROOT_SECRET).status_code == 302
    return browser
