"""All of the library's SQL on the host's session: one place.

:class:`Store` is the unit of work the use cases run in (the host's
session, a commit that raises the change counter when issued tokens are
affected) and the lookups on the hot paths, through the :class:`FastReader`
where it can see what the session commits. Rows are read by column name.
Nothing here imports Flask.
"""

from __future__ import annotations

import contextlib
import hmac
from collections.abc import Callable
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from sqlalchemy import bindparam
from sqlalchemy import delete
from sqlalchemy import select
from sqlalchemy import text
from sqlalchemy import update
from sqlalchemy.engine import Connection
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from .clients import ClientRecord
from .clients import is_client_id
from .errors import NotFoundError
from .fast_reader import FastReader
from .fast_reader import ReadFailed
from .invalidation import CHANNEL
from .models import ChangeCounter
from .models import OAuthClient
from .models import RevokedToken

__all__ = ["Store"]

_REVOKED = select(RevokedToken.jti).where(RevokedToken.jti == bindparam("jti")).exists()
#: Everything a token check or a client authentication needs, in one query.
_CLIENT_LOOKUP = select(
    OAuthClient.secret_hash,
    OAuthClient.scopes,
    OAuthClient.previous_secret_hash,
    OAuthClient.previous_secret_expires_at,
    OAuthClient.token_generation,
    OAuthClient.token_endpoint_auth_method,
    OAuthClient.jwks,
    OAuthClient.jwks_uri,
    OAuthClient.access_token_lifetime,
    OAuthClient.dpop_bound_access_tokens,
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
#: Sent in the counter's transaction on PostgreSQL: delivered to listeners
#: when (and only if) it commits.
_NOTIFY = text(f"NOTIFY {CHANNEL}")


class Store:
    """The host's session, and the library's reads and writes on it."""

    def __init__(
        self, session_factory: Callable[[], Session], root: ClientRecord
    ) -> None:
        self._session_factory = session_factory
        self.root = root
        self.reader = FastReader(self.bind)
        #: Called after a change that raised the counter has committed.
        self._announcers: list[Callable[[], None]] = []

    def __repr__(self) -> str:
        return "<Store>"

    def session(self) -> Session:
        return self._session_factory()

    def commit(self, invalidates_tokens: bool = True) -> None:
        """Commit the request's writes; when they may invalidate issued
        tokens, raise the change counter in the same transaction, so every
        process's token cache lets go of them."""
        session = self.session()
        if not invalidates_tokens:
            session.commit()
            return
        self._raise_counter(session, _BUMP)

    def revoke_root_tokens(self) -> None:
        """Every token issued to the root client so far stops working."""
        self._raise_counter(self.session(), _BUMP_ROOT)

    def announce_changes_with(self, announce: Callable[[], None]) -> None:
        """Call ``announce`` after every committed change of the counter
        (push invalidation through Redis; PostgreSQL notifies by itself)."""
        self._announcers.append(announce)

    def _raise_counter(self, session: Session, bump: Any) -> None:
        session.execute(bump)
        if session.get_bind(mapper=OAuthClient.__mapper__).dialect.name == (
            "postgresql"
        ):
            session.execute(_NOTIFY)
        session.commit()
        for announce in self._announcers:
            announce()

    def rollback(self) -> None:
        """Undo the request's writes; quietly, as the database may be gone."""
        with contextlib.suppress(SQLAlchemyError):
            self.session().rollback()

    def bind(self) -> Engine | Connection:
        """What the host's session is bound to."""
        return self.session().get_bind(mapper=OAuthClient.__mapper__)

    def engine(self) -> Engine:
        bind = self.bind()
        if not isinstance(bind, Engine):  # a Connection: use its engine
            bind = bind.engine
        return bind

    def prune_revocations(self, now: float) -> int:
        """Drop revocations of tokens that have expired anyway."""
        with self.engine().begin() as connection:
            result = connection.execute(
                delete(RevokedToken).where(RevokedToken.expires_at < now)
            )
        return int(result.rowcount or 0)

    def counter(self) -> int | None:
        """The change counter; None when it cannot be read the fast way."""
        return self.reader.counter()

    def is_root(self, client_id: str) -> bool:
        return hmac.compare_digest(
            client_id.encode("utf-8", "surrogatepass"),
            self.root.client_id.encode("utf-8", "surrogatepass"),
        )

    def stored_client(self, client_id: str) -> OAuthClient:
        """A stored client, as the session's object, for a use case that
        reads or changes it; the root client and unknown ids are both
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
            generation = int(row["generation"] or 0) if row else 0
            root = replace(self.root, token_generation=generation)
            return root, bool(row and row["revoked"])
        if not is_client_id(client_id):
            return None
        row = self._fetch(_CLIENT_LOOKUP, params)
        if row is None:
            return None
        record = ClientRecord(
            client_id,
            row["secret_hash"],
            frozenset(row["scopes"]),
            previous_secret_hash=row["previous_secret_hash"],
            previous_secret_expires_at=row["previous_secret_expires_at"],
            token_generation=row["token_generation"],
            auth_method=row["token_endpoint_auth_method"],
            jwks=row["jwks"],
            jwks_uri=row["jwks_uri"],
            access_token_lifetime=row["access_token_lifetime"],
            dpop_bound_access_tokens=bool(row["dpop_bound_access_tokens"]),
        )
        return record, bool(row["revoked"])

    def _fetch(
        self, statement: Any, params: dict[str, Any]
    ) -> Mapping[str, Any] | None:
        try:
            return self.reader.fetch_one(statement, params)
        except ReadFailed:
            # The session's own error (503) or answer, the slow way.
            row = self.session().execute(statement, params).first()
            return None if row is None else dict(row._mapping)
