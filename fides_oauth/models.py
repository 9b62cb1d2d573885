"""The library's tables, on a metadata of their own.

Kept apart from the host's metadata so the library never touches the host's
models; a host that manages its schema with Alembic or Flask-Migrate lists
:data:`metadata` next to its own (see the docs, "Embedding it in your app", Migrations).
"""

from __future__ import annotations

from datetime import datetime
from datetime import timezone
from typing import Any

from sqlalchemy import JSON
from sqlalchemy import BigInteger
from sqlalchemy import Boolean
from sqlalchemy import DateTime
from sqlalchemy import Float
from sqlalchemy import Integer
from sqlalchemy import MetaData
from sqlalchemy import String
from sqlalchemy import Text
from sqlalchemy import false
from sqlalchemy import text
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

__all__ = [
    "AdminSession",
    "AuditRecord",
    "AuthFailure",
    "Base",
    "ChangeCounter",
    "KnownSource",
    "OAuthClient",
    "RevokedToken",
    "SeenAssertion",
    "SigningKey",
    "metadata",
    "utcnow",
]

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

NAME_MAX_LENGTH = 200
JWKS_URI_MAX_LENGTH = 2048
SECRET_BASIC = "client_secret_basic"  # noqa: S105 - a method name
DESCRIPTION_MAX_LENGTH = 2000


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class Base(DeclarativeBase):
    metadata = metadata


class OAuthClient(Base):
    """A client created through the API. The root client is never stored."""

    __tablename__ = "fides_oauth_clients"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    #: None for a client that authenticates with a signed assertion.
    secret_hash: Mapped[str | None] = mapped_column(String(60), nullable=True)
    scopes: Mapped[list[str]] = mapped_column(JSON)
    name: Mapped[str | None] = mapped_column(String(NAME_MAX_LENGTH), default=None)
    description: Mapped[str | None] = mapped_column(
        String(DESCRIPTION_MAX_LENGTH), default=None
    )
    created_by: Mapped[str | None] = mapped_column(String(255), default=None)
    #: The secret replaced by the last rotation, accepted until
    #: ``previous_secret_expires_at`` (epoch seconds) for zero-downtime rotation.
    previous_secret_hash: Mapped[str | None] = mapped_column(String(60), default=None)
    previous_secret_expires_at: Mapped[float | None] = mapped_column(
        Float, default=None
    )
    #: Raised to revoke every token issued before; tokens carry the value
    #: they were issued under (claim ``gen``) and must match it.
    token_generation: Mapped[int] = mapped_column(
        Integer, default=0, server_default=text("0")
    )
    #: Optimistic concurrency: every UPDATE or DELETE of a client names the
    #: version it read, so a change judged against a client's scopes cannot
    #: land after those scopes changed underneath it (409 instead).
    version: Mapped[int] = mapped_column(Integer, server_default=text("1"))

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 - SQLAlchemy's hook
    #: RFC 7591 metadata (CONTRACT §7): how the client authenticates, its
    #: public keys (inline or by URL), its tokens' lifetime, DPoP binding.
    token_endpoint_auth_method: Mapped[str] = mapped_column(
        String(32), default=SECRET_BASIC, server_default=SECRET_BASIC
    )
    jwks: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    jwks_uri: Mapped[str | None] = mapped_column(
        String(JWKS_URI_MAX_LENGTH), default=None
    )
    access_token_lifetime: Mapped[int | None] = mapped_column(Integer, default=None)
    dpop_bound_access_tokens: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=false()
    )
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, index=True
    )
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )
    #: The last successful token request, coarse (at most about one write
    #: a minute per client; :mod:`fides_oauth.usage`). None: never used.
    last_used_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), default=None
    )

    def __repr__(self) -> str:
        # Never the hash: reprs end up in logs (Authlib logs the client).
        return f"<OAuthClient {self.id}>"


class SigningKey(Base):
    """A token-signing key, kept when the host configures none.

    ``generation`` is unique, so workers that start at once against an empty
    database agree on one key: the second insert of generation 1 fails and
    that worker reads the winner's key.
    """

    __tablename__ = "fides_oauth_signing_keys"

    kid: Mapped[str] = mapped_column(String(64), primary_key=True)
    generation: Mapped[int] = mapped_column(Integer, unique=True)
    algorithm: Mapped[str] = mapped_column(String(16))
    #: The private key, AES-256-GCM encrypted under the key-encryption key
    #: (see :mod:`fides_oauth.sealing`); never the PEM in the clear.
    sealed_private_key: Mapped[str] = mapped_column(Text)
    #: When a newer key took over signing (epoch seconds); the key keeps
    #: verifying until the tokens it signed have expired.
    retired_at: Mapped[float | None] = mapped_column(Float, default=None)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow
    )

    def __repr__(self) -> str:
        return f"<SigningKey {self.kid} generation={self.generation}>"


class AuthFailure(Base):
    """Failed client authentications in the current window, per key.

    Keys are ``sha256("client:" + id)`` or ``sha256("addr:" + address)``:
    fixed length whatever the request sent. Shared by every worker through
    the database, so a deployment's limit does not grow with its workers.
    """

    __tablename__ = "fides_oauth_auth_failures"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    window_start: Mapped[float] = mapped_column(Float, index=True)
    failures: Mapped[int] = mapped_column(Integer)

    def __repr__(self) -> str:
        return f"<AuthFailure {self.key[:12]} failures={self.failures}>"


class KnownSource(Base):
    """A client id and remote address pair that authenticated successfully.

    The key is ``sha256("source:" + id + NUL + address)``. From a known
    source a client is judged by that pair's own failure count, so failures
    against its id from elsewhere, or by other ids from its address, cannot
    lock it out (see :mod:`fides_oauth.limits`). Pruned after
    ``FIDES_OAUTH_TRUSTED_SOURCE_DAYS`` without a success.
    """

    __tablename__ = "fides_oauth_known_sources"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    last_success: Mapped[float] = mapped_column(Float, index=True)

    def __repr__(self) -> str:
        return f"<KnownSource {self.key[:12]}>"


class SeenAssertion(Base):
    """A client assertion's ``jti``, kept until the assertion expires, so
    it is accepted once (RFC 7523 §3). The key is
    ``sha256(namespace + client id + jti)``; the primary key makes the
    first insert win, atomically, across every worker."""

    __tablename__ = "fides_oauth_seen"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[float] = mapped_column(Float, index=True)

    def __repr__(self) -> str:
        return f"<SeenAssertion {self.key[:12]}>"


class AdminSession(Base):
    """A signed-in admin page session (CONTRACT §9), shared by every worker.

    The browser's cookie holds a random token; only its SHA-256 is stored,
    so a copy of this table opens no session. The client's scopes are not
    kept: they are read afresh on every page, so a scope cut applies at
    once. ``generation`` is the client's token generation at sign-in:
    revoking the client's tokens, or deleting it, ends its sessions too.
    """

    __tablename__ = "fides_oauth_admin_sessions"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    client_id: Mapped[str] = mapped_column(String(255), index=True)
    csrf: Mapped[str] = mapped_column(String(64))
    generation: Mapped[int] = mapped_column(Integer)
    expires_at: Mapped[float] = mapped_column(Float, index=True)
    last_seen: Mapped[float] = mapped_column(Float)

    def __repr__(self) -> str:
        return f"<AdminSession {self.client_id}>"


class RevokedToken(Base):
    """An access token revoked before its expiry (RFC 7009), by ``jti``.

    Kept only until the token would have expired anyway, then pruned, so
    the table holds at most the tokens revoked within one token lifetime.
    """

    __tablename__ = "fides_oauth_revoked_tokens"

    jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    client_id: Mapped[str] = mapped_column(String(255))
    expires_at: Mapped[float] = mapped_column(Float, index=True)

    def __repr__(self) -> str:
        return f"<RevokedToken {self.jti}>"


class ChangeCounter(Base):
    """One row whose counter rises with every change that can invalidate an
    issued token (scopes, deletion, revocation, rotation).

    Each process caches verified tokens tagged with the counter it read
    before verifying them; reading the counter is one primary-key lookup
    per request, so a change committed by any worker is honoured on the
    next request everywhere without reloading the client.
    """

    __tablename__ = "fides_oauth_changes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    counter: Mapped[int] = mapped_column(BigInteger, default=0)
    #: The root client is not stored; raising this revokes its tokens.
    root_token_generation: Mapped[int] = mapped_column(
        Integer, default=0, server_default=text("0")
    )

    def __repr__(self) -> str:
        return f"<ChangeCounter {self.counter}>"


class AuditRecord(Base):
    """One persisted audit event (the admin page's audit trail).

    Only the events an operator acts on are kept (see
    :data:`fides_oauth.audit_trail.PERSISTED`): management changes, admin
    sign-ins and sign-outs, signing-key rotations and token revocations —
    never a token grant, so the token endpoint writes nothing here. ``at``
    is epoch seconds from the app's clock; ``scopes`` are space-separated
    (a scope never contains a space, RFC 6749 §3.3).
    """

    __tablename__ = "fides_oauth_audit_events"

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True
    )
    at: Mapped[float] = mapped_column(Float, index=True)
    event: Mapped[str] = mapped_column(String(64))
    actor: Mapped[str | None] = mapped_column(String(255), index=True)
    target: Mapped[str | None] = mapped_column(String(255), index=True)
    scopes: Mapped[str] = mapped_column(Text, default="")
    outcome: Mapped[str] = mapped_column(String(32))

    def __repr__(self) -> str:
        return f"<AuditRecord {self.id} {self.event}>"
