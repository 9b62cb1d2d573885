"""Clients: the record authentication sees, the containment rule, and the
storage operations behind the management use cases.

Nothing here knows about Flask: the functions take a SQLAlchemy session and
plain values, and raise the library's ``OAuth2Error`` subclasses, so every
rule can be tested without an app.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from datetime import timezone
from typing import Any

from sqlalchemy import func
from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy.orm import Session

from .bodies import ClientSpec
from .bodies import Rotation
from .client_metadata import KEY_METHOD
from .client_metadata import SECRET_METHODS
from .client_metadata import Resolved
from .client_metadata import resolve
from .errors import FidesOAuthError
from .errors import ForbiddenScopesError
from .hashing import SecretHasher
from .hashing import generate_client_id
from .hashing import generate_client_secret
from .models import OAuthClient
from .scopes import missing_scopes
from .scopes import normalize_scopes
from .scopes import parse_scope_string

__all__ = [
    "ClientRecord",
    "create_client",
    "ensure_holds",
    "epoch_to_iso",
    "is_client_id",
    "list_clients",
    "page_count",
    "revoke_tokens",
    "rotate_secret",
    "serialize_client",
]

_GRANT_TYPE = "client_credentials"
_ENDPOINTS = frozenset({"token", "revocation", "introspection"})


@dataclass(frozen=True)
class ClientRecord:
    """What authentication and authorization need to know of a client.

    It is also the client object Authlib's grant sees (its ``ClientMixin``
    methods). Its repr shows the id only: Authlib logs clients.
    """

    client_id: str
    #: None for a private_key_jwt client.
    secret_hash: str | None
    scopes: frozenset[str]
    is_root: bool = False
    previous_secret_hash: str | None = None
    previous_secret_expires_at: float | None = None
    token_generation: int = 0
    auth_method: str = SECRET_METHODS[0]
    jwks: Mapping[str, Any] | None = None
    jwks_uri: str | None = None
    #: Seconds; None: the app's lifetime.
    access_token_lifetime: int | None = None
    dpop_bound_access_tokens: bool = False

    @property
    def uses_keys(self) -> bool:
        return self.auth_method == KEY_METHOD

    def token_lifetime(self, default: int) -> int:
        """Seconds its access tokens live (CONTRACT §7), else ``default``
        (the app's): tokens and admin sessions both follow it."""
        return self.access_token_lifetime or default

    def __repr__(self) -> str:
        return f"<ClientRecord {self.client_id}{' (root)' if self.is_root else ''}>"

    def previous_secret_hash_at(self, now: float) -> str | None:
        """The rotated-out secret's hash while its grace period lasts."""
        expires = self.previous_secret_expires_at
        if self.previous_secret_hash and expires is not None and now < expires:
            return self.previous_secret_hash
        return None

    # -- authlib.oauth2.rfc6749.ClientMixin --
    def get_client_id(self) -> str:
        return self.client_id

    def get_allowed_scope(self, scope: str | None) -> str:
        # The grant has already refused scopes the client does not hold.
        requested = parse_scope_string(scope)
        if requested is None:  # absent, empty or blank: all of them
            return " ".join(sorted(self.scopes))
        return " ".join(normalize_scopes(requested))

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        # Fail closed: a key client signs assertions, a secret client (either
        # secret method) presents its secret; never the other way round.
        if endpoint not in _ENDPOINTS:
            return False
        return method == KEY_METHOD if self.uses_keys else method in SECRET_METHODS

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == _GRANT_TYPE


def is_client_id(value: str) -> bool:
    """Whether ``value`` has the shape of a stored client id (32 hex chars).

    Checked before any query, so that a hostile path segment (a NUL byte,
    a megabyte of text) never reaches the database.
    """
    return len(value) == 32 and all(ch in "0123456789abcdef" for ch in value)


# -- rules -----------------------------------------------------------------


def ensure_holds(held: Iterable[str], wanted: Iterable[str], action: str) -> None:
    """Scope containment: nobody grants, or takes over, more than it holds."""
    missing = missing_scopes(held, wanted)
    if missing:
        raise ForbiddenScopesError(missing, action)


# -- storage ---------------------------------------------------------------


def create_client(
    session: Session,
    hasher: SecretHasher,
    spec: ClientSpec,
    created_by: str,
    reserved_ids: Iterable[str] = (),
) -> tuple[OAuthClient, str | None]:
    """Add a client to the session; returns it and its plaintext secret
    (None for a private_key_jwt client, which has none).

    The caller commits. The secret is returned here and never again.
    """
    reserved = set(reserved_ids)
    client_id = generate_client_id()
    while client_id in reserved:  # pragma: no cover - 2**-128
        client_id = generate_client_id()
    metadata = resolve(None, spec.metadata)
    secret = None if metadata.method == KEY_METHOD else generate_client_secret()
    client = OAuthClient(
        id=client_id,
        secret_hash=hasher.hash(secret) if secret is not None else None,
        scopes=spec.scopes,
        name=spec.name,
        description=spec.description,
        created_by=created_by,
    )
    apply_metadata(client, metadata)
    session.add(client)
    return client, secret


def current_metadata(client: OAuthClient) -> Resolved:
    return Resolved(
        client.token_endpoint_auth_method,
        client.jwks,
        client.jwks_uri,
        client.access_token_lifetime,
        bool(client.dpop_bound_access_tokens),
    )


def apply_metadata(client: OAuthClient, metadata: Resolved) -> None:
    if metadata.method == KEY_METHOD:  # no secret, not even in a grace period
        client.secret_hash = None
        client.previous_secret_hash = None
        client.previous_secret_expires_at = None
    client.token_endpoint_auth_method = metadata.method
    client.jwks = metadata.jwks
    client.jwks_uri = metadata.jwks_uri
    client.access_token_lifetime = metadata.lifetime
    client.dpop_bound_access_tokens = metadata.dpop


def rotate_secret(
    hasher: SecretHasher, client: OAuthClient, rotation: Rotation, now: float
) -> str:
    """Give the client a new secret, returned here and never again.

    With a grace period the replaced secret keeps working until it ends; a
    rotation during a grace period ends the older grace (only the secret
    being replaced now is kept). A private_key_jwt client has no secret to
    rotate (400).
    """
    if client.token_endpoint_auth_method == KEY_METHOD:
        raise FidesOAuthError(
            "A private_key_jwt client has no secret to rotate; change its keys "
            "with PUT instead."
        )
    secret = generate_client_secret()
    if rotation.grace_seconds:
        client.previous_secret_hash = client.secret_hash
        client.previous_secret_expires_at = now + rotation.grace_seconds
    else:
        client.previous_secret_hash = None
        client.previous_secret_expires_at = None
    client.secret_hash = hasher.hash(secret)
    if rotation.revoke_tokens:
        revoke_tokens(client)
    return secret


def revoke_tokens(client: OAuthClient) -> None:
    """Invalidate every token issued to the client so far."""
    # An SQL expression: the increment happens in the database, atomically.
    client.token_generation = OAuthClient.token_generation + 1


def list_clients(
    session: Session, page: int, size: int, search: str | None = None
) -> tuple[list[OAuthClient], int]:
    """One page of clients, oldest first, and how many match; ``search``
    keeps those whose name contains it (any case) or whose id starts with it."""
    where = []
    if search:
        pattern = search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        where.append(
            or_(
                func.lower(OAuthClient.name).like(f"%{pattern.lower()}%", escape="\\"),
                OAuthClient.id.like(f"{pattern}%", escape="\\"),
            )
        )
    total = (
        session.scalar(select(func.count()).select_from(OAuthClient).where(*where)) or 0
    )
    items = session.scalars(
        select(OAuthClient)
        .where(*where)
        .order_by(OAuthClient.created_at, OAuthClient.id)
        .offset((page - 1) * size)
        .limit(size)
    ).all()
    return list(items), total


def page_count(total: int, size: int) -> int:
    return math.ceil(total / size)


def _iso(moment: datetime) -> str:
    if moment.tzinfo is None:  # SQLite hands back naive UTC values
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.isoformat()


def epoch_to_iso(moment: float | None) -> str | None:
    if moment is None:
        return None
    return datetime.fromtimestamp(moment, timezone.utc).isoformat()


def serialize_client(client: OAuthClient) -> dict[str, Any]:
    """The public view of a client: never the secret, never the hash."""
    return {
        "client_id": client.id,
        "name": client.name,
        "description": client.description,
        "scopes": list(client.scopes),
        "created_by": client.created_by,
        "token_endpoint_auth_method": client.token_endpoint_auth_method,
        "jwks": client.jwks,
        "jwks_uri": client.jwks_uri,
        "access_token_lifetime": client.access_token_lifetime,
        "dpop_bound_access_tokens": bool(client.dpop_bound_access_tokens),
        "created_at": _iso(client.created_at),
        "updated_at": _iso(client.updated_at),
        "last_used_at": _iso(client.last_used_at) if client.last_used_at else None,
    }
