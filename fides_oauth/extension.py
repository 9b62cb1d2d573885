"""The blueprint a host registers, and what registering it sets up."""

from __future__ import annotations

import logging
from collections.abc import Callable
from collections.abc import Iterable
from typing import cast

from flask import Blueprint
from flask import Flask
from flask.blueprints import BlueprintSetupState
from sqlalchemy import insert
from sqlalchemy import select
from sqlalchemy import text
from sqlalchemy.orm import Session

from . import migrate
from .admin import register_admin
from .audit import emit as default_audit
from .cli import register_commands
from .clients import ClientRecord
from .config import load_config
from .core import Core
from .discovery import metadata_path
from .discovery import server_metadata
from .hashing import SecretHasher
from .issuer import IssuerRule
from .keys import load_pem_key
from .models import ChangeCounter
from .models import metadata
from .protect import BearerProtector
from .routes import register_routes
from .scopes import ScopeRegistry
from .sealing import KeySealer
from .sealing import derive_keys
from .seams import AuditSink
from .seams import Clock
from .seams import SharedState
from .seams import system_clock
from .server import AuthorizationServer
from .state import EXTENSION_KEY
from .state import OAuthState
from .state import current_state
from .store import Store
from .telemetry import Telemetry
from .views import guard_library_paths

__all__ = [
    "FidesOAuth",
    "create_tables",
    "drop_tables",
    "prune",
    "rotate_signing_key",
]


logger = logging.getLogger("fides_oauth")


class FidesOAuth(Blueprint):
    """The OAuth 2.0 client-credentials blueprint.

    ::

        oauth = FidesOAuth(session=db.session, scopes=["policy:read"])
        app.register_blueprint(oauth, url_prefix="/api/v1")

    :param session: the host's SQLAlchemy session: Flask-SQLAlchemy's
        ``db.session``, a ``scoped_session``, or any callable returning the
        current request's :class:`~sqlalchemy.orm.Session`.
    :param scopes: the host's own scopes, added to the built-in ones.
    :param name: the blueprint's name (and endpoint prefix).
    :param clock: the time in epoch seconds (:class:`~fides_oauth.seams.Clock`);
        tests pass a fake one.
    :param audit: where audit events go (:class:`~fides_oauth.seams.AuditSink`);
        by default :func:`fides_oauth.audit.emit`.
    :param shared_state: the state every worker shares
        (:class:`~fides_oauth.seams.SharedState`); by default the one
        ``FIDES_OAUTH_STORAGE_URI`` names: the SQL database, or Redis.
    :param telemetry: OpenTelemetry instruments
        (:class:`~fides_oauth.telemetry.Telemetry`); by default on the global
        meter and tracer providers, a no-op without ``opentelemetry-api``.

    Registering it on an app reads and validates the app's ``FIDES_OAUTH_*``
    configuration (see :mod:`fides_oauth.config`), hashes the root secret,
    and keeps the app's state in ``app.extensions["fides_oauth"]``. The same
    object may be registered on several apps; each gets its own state.
    """

    def __init__(
        self,
        session: Callable[[], Session],
        scopes: Iterable[str] = (),
        *,
        name: str = "fides_oauth",
        clock: Clock = system_clock,
        audit: AuditSink | None = None,
        shared_state: SharedState | None = None,
        telemetry: Telemetry | None = None,
    ) -> None:
        super().__init__(
            name, __name__, cli_group="fides-oauth", template_folder="templates"
        )
        if not callable(session):
            raise TypeError(
                "FidesOAuth(session=...) takes the host's session: "
                "Flask-SQLAlchemy's db.session or a sqlalchemy scoped_session."
            )
        self._session_factory = session
        self._clock = clock
        self._audit: AuditSink = audit or default_audit
        self._shared_state = shared_state
        self._telemetry = telemetry
        self.registry = ScopeRegistry(scopes)  # malformed names fail here
        register_routes(self)
        register_admin(self)
        register_commands(self)
        self.record(self._setup)

    def _setup(self, setup: BlueprintSetupState) -> None:
        app = setup.app
        if EXTENSION_KEY in app.extensions:
            raise RuntimeError(
                "fides_oauth is already registered on this app. Register the "
                "blueprint once per app."
            )
        settings, secrets = load_config(app.config)
        signing_key = (
            load_pem_key(settings.signing_key_pem) if settings.signing_key_pem else None
        )
        hasher = SecretHasher(settings.bcrypt_rounds)
        root = ClientRecord(
            client_id=settings.root_client_id,
            secret_hash=hasher.hash(secrets.root_secret),  # the plaintext stops here
            scopes=self.registry.all,
            is_root=True,
        )
        keks = secrets.key_encryption_keys
        sealer = KeySealer(keks) if keks else None  # derived keys only
        # DPoP nonces: keyed by what every worker is configured with alike
        # (load_config has made sure there is a KEK or a signing key).
        nonce_keys = derive_keys(
            keks or [cast(str, settings.signing_key_pem)], b"dpop nonce"
        )
        del secrets
        core = Core.build(
            settings,
            self.registry,
            hasher,
            Store(self._session_factory, root),
            signing_key,
            sealer,
            clock=self._clock,
            audit=self._audit,
            shared=self._shared_state,
            nonce_keys=nonce_keys,
            telemetry=self._telemetry,
        )
        url_prefix = (setup.url_prefix or "").rstrip("/")
        issuer = IssuerRule(settings.issuer, settings.audience, url_prefix)
        state = OAuthState(
            core=core,
            issuer=issuer,
            server=AuthorizationServer(core, issuer),
            protector=BearerProtector(core, issuer),
            url_prefix=url_prefix,
            blueprint_name=setup.name,
        )
        app.extensions[EXTENSION_KEY] = state
        # First of the app's hooks: before any of the host's reads a body.
        app.before_request_funcs.setdefault(None, []).insert(0, guard_library_paths)
        if settings.issuer is None and not (app.debug or app.testing):
            logger.warning(
                "FIDES_OAUTH_ISSUER is not set: the issuer is derived from each "
                "request's scheme and Host, so a token fetched through one host "
                "name (127.0.0.1) is refused through another (localhost), and a "
                "revocation sent to another name does nothing. Set it to the "
                "public URL of the blueprint, e.g. https://auth.example.com%s.",
                state.url_prefix,
            )
        if settings.server_metadata:
            app.add_url_rule(
                metadata_path(settings.issuer, state.url_prefix),
                endpoint=f"{setup.name}_server_metadata",
                view_func=server_metadata,
                methods=["GET"],
            )


def create_tables(app: Flask | None = None) -> None:
    """Create the library's tables, or bring older ones to this release's
    schema, and check that the stored signing keys open.

    Call it inside an app context (or pass the app). Safe to run from many
    processes at once (workers starting together on an empty database):
    one makes the change, the others wait and find it done. A wrong
    ``FIDES_OAUTH_KEY_ENCRYPTION_KEY`` fails here, at start-up, with
    :class:`~fides_oauth.sealing.SealError`.
    """
    if app is not None:
        with app.app_context():
            create_tables()
        return
    core = current_state().core
    core.changes.check(core.store.engine())
    with migrate.schema_lock(core.store.engine()) as connection:
        migrate.bring_to_head(connection)
        if connection.scalar(select(ChangeCounter.id)) is None:
            connection.execute(insert(ChangeCounter).values(id=1, counter=0))
    core.keys.check()


def drop_tables(app: Flask | None = None) -> None:
    """Drop the library's tables (tests, teardown)."""
    if app is not None:
        with app.app_context():
            drop_tables()
        return
    engine = current_state().core.store.engine()
    metadata.drop_all(bind=engine)
    with engine.begin() as connection:
        connection.execute(text(f"DROP TABLE IF EXISTS {migrate.VERSION_TABLE}"))


def rotate_signing_key(app: Flask | None = None, *, actor: str = "operator") -> str:
    """Make a new key sign new tokens; returns its ``kid``.

    The previous key keeps verifying until the tokens it signed have
    expired, and is served in the JWK Set until then. Every worker picks
    the new key up within a minute (at once for tokens that name it). The
    rotation is audited with ``actor`` as the one who did it.
    """
    if app is not None:
        with app.app_context():
            return rotate_signing_key(actor=actor)
    return current_state().core.rotate_signing_key(actor)


def prune(app: Flask | None = None) -> dict[str, int]:
    """Delete what has outlived its use: revocations of tokens that have
    expired anyway, failure counts whose window has passed, and audit events
    older than ``FIDES_OAUTH_AUDIT_RETENTION_DAYS``.

    The first two are also pruned as the library goes (on each revocation,
    and every few dozen failed authentications); this is for a periodic job or
    ``flask fides-oauth prune``. Returns the rows deleted per table.
    """
    if app is not None:
        with app.app_context():
            return prune()
    return current_state().core.prune()
