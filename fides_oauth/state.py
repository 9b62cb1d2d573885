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
from typing import TYPE_CHECKING

from flask import current_app
from flask import request
from sqlalchemy import literal
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from .clients import ClientRecord
from .clients import is_client_id
from .config import OAuthConfig
from .hashing import SecretHasher
from .keys import KeyStore
from .limits import FailureLimiter
from .models import OAuthClient
from .models import RevokedToken
from .scopes import ScopeRegistry

if TYPE_CHECKING:
    from .protect import BearerProtector
    from .server import AuthorizationServer

__all__ = ["EXTENSION_KEY", "OAuthState", "current_state"]

EXTENSION_KEY = "fides_oauth"


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
    limiter: FailureLimiter = field(init=False)
    server: AuthorizationServer = field(init=False)
    protector: BearerProtector = field(init=False)

    def __repr__(self) -> str:
        return f"<OAuthState root={self.root.client_id!r} prefix={self.url_prefix!r}>"

    def session(self) -> Session:
        return self.session_factory()

    def rollback(self) -> None:
        """Undo the request's writes; quietly, as the database may be gone."""
        with contextlib.suppress(SQLAlchemyError):
            self.session().rollback()

    def engine(self) -> Engine:
        bind = self.session().get_bind(mapper=OAuthClient.__mapper__)
        if not isinstance(bind, Engine):  # a Connection: use its engine
            bind = bind.engine
        return bind

    def issuer(self) -> str:
        """The ``iss`` of tokens: configured, or this request's host URL
        plus the blueprint's prefix."""
        if self.config.issuer:
            return self.config.issuer
        return request.host_url.rstrip("/") + self.url_prefix

    def audience(self) -> str:
        return self.config.audience or self.issuer()

    def is_root(self, client_id: str) -> bool:
        return hmac.compare_digest(
            client_id.encode("utf-8", "surrogatepass"),
            self.root.client_id.encode("utf-8", "surrogatepass"),
        )

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
        revoked = (
            select(RevokedToken.jti).where(RevokedToken.jti == jti).exists()
            if jti is not None
            else literal(False)
        )
        if self.is_root(client_id):
            if jti is None:
                return self.root, False
            return self.root, bool(self.session().scalar(select(revoked)))
        if not is_client_id(client_id):
            return None
        row = (
            self.session()
            .execute(
                select(
                    OAuthClient.secret_hash,
                    OAuthClient.scopes,
                    OAuthClient.previous_secret_hash,
                    OAuthClient.previous_secret_expires_at,
                    OAuthClient.token_generation,
                    revoked.label("revoked"),
                ).where(OAuthClient.id == client_id)
            )
            .first()
        )
        if row is None:
            return None
        return ClientRecord(
            client_id,
            row.secret_hash,
            frozenset(row.scopes),
            previous_secret_hash=row.previous_secret_hash,
            previous_secret_expires_at=row.previous_secret_expires_at,
            token_generation=row.token_generation,
        ), bool(row.revoked)


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
