"""Per-app state: everything the library knows about one app.

It lives in ``app.extensions["fides_oauth"]`` and is reached through
``current_app``; no object of the library keeps a reference to an app.
"""

from __future__ import annotations

import contextlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field
from dataclasses import replace
from typing import TYPE_CHECKING
from typing import Any

from flask import current_app
from flask import request
from sqlalchemy import bindparam
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.engine import Connection
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from .cache import BoundedCache
from .cache import Credentials
from .cache import ReadFailed
from .cache import StoreReader
from .cache import VerifiedTokens
from .clients import ClientRecord
from .clients import is_client_id
from .config import OAuthConfig
from .errors import NotFoundError
from .hashing import SecretHasher
from .keys import KeyStore
from .limits import FailureLimiter
from .models import ChangeCounter
from .models import OAuthClient
from .models import RevokedToken
from .outages import OutageLog
from .scopes import ScopeRegistry

if TYPE_CHECKING:
    from .protect import BearerProtector
    from .server import AuthorizationServer

__all__ = ["EXTENSION_KEY", "OAuthState", "current_state"]

EXTENSION_KEY = "fides_oauth"

_REVOKED = select(RevokedToken.jti).where(RevokedToken.jti == bindparam("jti")).exists()
#: Everything a token check or a client authentication needs, in one query.
_CLIENT_LOOKUP = select(
    OAuthClient.secret_hash,
    OAuthClient.scopes,
    OAuthClient.previous_secret_hash,
    OAuthClient.previous_secret_expires_at,
    OAuthClient.token_generation,
    _REVOKED.label("revoked"),
).where(OAuthClient.id == bindparam("id"))
#: The root client is not stored: whether the token was revoked, and the
#: root's token generation (raised to revoke every root token).
_ROOT_LOOKUP = select(
    _REVOKED.label("revoked"),
    select(ChangeCounter.root_token_generation)
    .where(ChangeCounter.id == 1)
    .scalar_subquery()
    .label("generation"),
)
_BUMP_ROOT = (
    update(ChangeCounter)
    .where(ChangeCounter.id == 1)
    .values(
        counter=ChangeCounter.counter + 1,
        root_token_generation=ChangeCounter.root_token_generation + 1,
    )
)
_BUMP = (
    update(ChangeCounter)
    .where(ChangeCounter.id == 1)
    .values(counter=ChangeCounter.counter + 1)
)


@dataclass(eq=False)
class OAuthState:
    config: OAuthConfig
    registry: ScopeRegistry
    hasher: SecretHasher
    root: ClientRecord
    session_factory: Callable[[], Session]
    url_prefix: str
    blueprint_name: str
    keys: KeyStore = field(init=False)
    _issuers: BoundedCache[tuple[Any, ...], str] = field(
        init=False, default_factory=lambda: BoundedCache(64)
    )
    #: Storage failures: the 503 to answer, the cause logged once.
    outages: OutageLog = field(init=False, default_factory=OutageLog)
    reader: StoreReader = field(init=False)
    verified: VerifiedTokens = field(init=False)
    credentials: Credentials = field(init=False)
    limiter: FailureLimiter = field(init=False)
    server: AuthorizationServer = field(init=False)
    protector: BearerProtector = field(init=False)

    def __repr__(self) -> str:
        return f"<OAuthState root={self.root.client_id!r} prefix={self.url_prefix!r}>"

    def session(self) -> Session:
        return self.session_factory()

    def commit(self, invalidates_tokens: bool = True) -> None:
        """Commit the request's writes; when they may invalidate issued
        tokens, raise the change counter in the same transaction, so every
        process's token cache lets go of them."""
        session = self.session()
        if invalidates_tokens:
            session.execute(_BUMP)
        session.commit()

    def revoke_root_tokens(self) -> None:
        """Every token issued to the root client so far stops working."""
        session = self.session()
        session.execute(_BUMP_ROOT)
        session.commit()

    def rollback(self) -> None:
        """Undo the request's writes; quietly, as the database may be gone."""
        with contextlib.suppress(SQLAlchemyError):
            self.session().rollback()

    def bind(self) -> Engine | Connection:
        """What the host's session is bound to."""
        return self.session().get_bind(mapper=OAuthClient.__mapper__)

    def engine(self) -> Engine:
        bind = self.session().get_bind(mapper=OAuthClient.__mapper__)
        if not isinstance(bind, Engine):  # a Connection: use its engine
            bind = bind.engine
        return bind

    def issuer(self) -> str:
        """The ``iss`` of tokens: configured, or this request's root URL
        plus the blueprint's prefix (worked out once per request)."""
        if self.config.issuer:
            return self.config.issuer
        environ = request.environ
        key = (
            environ.get("wsgi.url_scheme"),
            environ.get("HTTP_HOST"),
            environ.get("SERVER_NAME"),
            environ.get("SERVER_PORT"),
            environ.get("SCRIPT_NAME"),
        )
        derived = self._issuers.get(key)
        if derived is None:  # werkzeug works the URL out, once per host
            derived = request.root_url.rstrip("/") + self.url_prefix
            self._issuers.put(key, derived)
        return derived

    def audience(self) -> str:
        return self.config.audience or self.issuer()

    def is_root(self, client_id: str) -> bool:
        return hmac.compare_digest(
            client_id.encode("utf-8", "surrogatepass"),
            self.root.client_id.encode("utf-8", "surrogatepass"),
        )

    def stored_client(self, client_id: str) -> OAuthClient:
        """A stored client, as the session's object, for a route or command
        that reads or changes it; the root client and unknown ids are both
        ``NotFoundError``."""
        if self.is_root(client_id) or not is_client_id(client_id):
            raise NotFoundError()
        client = self.session().get(OAuthClient, client_id)
        if client is None:
            raise NotFoundError()
        return client

    def find_client(self, client_id: str) -> ClientRecord | None:
        """The root client or a stored one, as it is now; None if unknown."""
        found = self._lookup(client_id, None)
        return found[0] if found else None

    def client_for_token(
        self, client_id: str, jti: str
    ) -> tuple[ClientRecord, bool] | None:
        """A token's client as it is now, and whether the token was revoked:
        one query."""
        return self._lookup(client_id, jti)

    def _lookup(
        self, client_id: str, jti: str | None
    ) -> tuple[ClientRecord, bool] | None:
        params = {"id": client_id, "jti": jti or ""}
        if self.is_root(client_id):
            row = self._fetch(_ROOT_LOOKUP, params)
            revoked, generation = row if row else (False, 0)
            root = replace(self.root, token_generation=int(generation or 0))
            return root, bool(revoked)
        if not is_client_id(client_id):
            return None
        row = self._fetch(_CLIENT_LOOKUP, params)
        if row is None:
            return None
        secret_hash, scopes, previous, previous_expires, generation, revoked = row
        record = ClientRecord(
            client_id,
            secret_hash,
            frozenset(scopes),
            previous_secret_hash=previous,
            previous_secret_expires_at=previous_expires,
            token_generation=generation,
        )
        return record, bool(revoked)

    def _fetch(self, statement: Any, params: dict[str, Any]) -> Any:
        try:
            return self.reader.fetch_one(statement, params)
        except ReadFailed:
            # The session's own error (503) or answer, the slow way.
            return self.session().execute(statement, params).first()


def current_state() -> OAuthState:
    """The state of the app handling this request."""
    state = current_app.extensions.get(EXTENSION_KEY)
    if state is None:
        raise RuntimeError(
            "fides_oauth is not registered on this app. Register it with "
            "app.register_blueprint(FidesOAuth(session=...), url_prefix=...) "
            "before serving requests."
        )
    return state  # type: ignore[no-any-return]
