"""Client management rules: what a request body may say, who may grant what,
and the storage operations behind each route.

Nothing here knows about Flask: the functions take a SQLAlchemy session and
plain values, and raise the library's ``OAuth2Error`` subclasses, so every
rule can be tested without an app.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Iterable
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from datetime import timezone
from typing import Any

from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.orm import Session

from .errors import ForbiddenScopesError
from .errors import UnknownScopesError
from .errors import UnprocessableError
from .hashing import SecretHasher
from .hashing import generate_client_id
from .hashing import generate_client_secret
from .models import DESCRIPTION_MAX_LENGTH
from .models import NAME_MAX_LENGTH
from .models import OAuthClient
from .scopes import ScopeRegistry
from .scopes import is_valid_scope_name
from .scopes import missing_scopes
from .scopes import normalize_scopes
from .scopes import parse_scope_string

__all__ = [
    "DEFAULT_PAGE_SIZE",
    "MAX_PAGE_SIZE",
    "NO_BODY",
    "ClientChanges",
    "ClientRecord",
    "ClientSpec",
    "create_client",
    "ensure_holds",
    "is_client_id",
    "list_clients",
    "parse_create_body",
    "parse_page_args",
    "parse_rotation_body",
    "parse_scopes",
    "parse_update_body",
    "revoke_tokens",
    "rotate_secret",
    "serialize_client",
]

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 100
_MAX_SCOPES_IN_BODY = 1000
_GRANT_TYPE = "client_credentials"
_ENDPOINTS = frozenset({"token", "revocation", "introspection"})


@dataclass(frozen=True)
class ClientRecord:
    """What authentication and authorization need to know of a client.

    It is also the client object Authlib's grant sees (its ``ClientMixin``
    methods). Its repr shows the id only: Authlib logs clients.
    """

    client_id: str
    secret_hash: str
    scopes: frozenset[str]
    is_root: bool = False
    previous_secret_hash: str | None = None
    previous_secret_expires_at: float | None = None
    token_generation: int = 0

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
        # Every method the server registered (client_auth.METHODS) serves
        # every client at these endpoints.
        return endpoint in _ENDPOINTS

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == _GRANT_TYPE


def is_client_id(value: str) -> bool:
    """Whether ``value`` has the shape of a stored client id (32 hex chars).

    Checked before any query, so that a hostile path segment (a NUL byte,
    a megabyte of text) never reaches the database.
    """
    return len(value) == 32 and all(ch in "0123456789abcdef" for ch in value)


# -- request bodies --------------------------------------------------------


@dataclass(frozen=True)
class ClientSpec:
    scopes: list[str]
    name: str | None = None
    description: str | None = None


_UNSET: Any = object()


@dataclass(frozen=True)
class ClientChanges:
    """A PUT body: only the fields it names are changed."""

    scopes: list[str] | None = None
    name: str | None = _UNSET
    description: str | None = _UNSET

    @property
    def changes_name(self) -> bool:
        return self.name is not _UNSET

    @property
    def changes_description(self) -> bool:
        return self.description is not _UNSET


def _text_field(
    value: Any, field: str, limit: int, allow_blank: bool = True
) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise UnprocessableError(f"'{field}' must be a string or null.")
    if not allow_blank and not value.strip():
        # As Fides' schema does: a name, when given, names something.
        raise UnprocessableError(f"'{field}' must not be empty or blank.")
    if len(value) > limit:
        raise UnprocessableError(f"'{field}' must be at most {limit} characters.")
    for ch in value:
        # Control characters — C0 (NUL above all, which PostgreSQL refuses),
        # DEL and C1 — and lone surrogates (not encodable) are refused;
        # tab and newline pass.
        if unicodedata.category(ch) in ("Cc", "Cs") and ch not in "\t\n\r":
            raise UnprocessableError(
                f"'{field}' contains a control character or invalid Unicode."
            )
    return value


def _name(value: Any) -> str | None:
    return _text_field(value, "name", NAME_MAX_LENGTH, allow_blank=False)


def parse_scopes(
    value: Any, registry: ScopeRegistry, field: str = "scopes"
) -> list[str]:
    """A JSON array of registered scope names, normalized."""
    if not isinstance(value, list):
        raise UnprocessableError(f"'{field}' must be a JSON array of scope names.")
    if len(value) > _MAX_SCOPES_IN_BODY:
        raise UnprocessableError(
            f"'{field}' lists more than {_MAX_SCOPES_IN_BODY} scopes."
        )
    if not all(isinstance(item, str) for item in value):
        raise UnprocessableError(f"Every item of '{field}' must be a string.")
    unknown = [
        name for name in value if not is_valid_scope_name(name) or name not in registry
    ]
    if unknown:
        raise UnknownScopesError(normalize_scopes(unknown))
    return normalize_scopes(value)


def _check_keys(data: Mapping[str, Any], allowed: Iterable[str]) -> None:
    extra = sorted(set(data) - set(allowed))
    if extra:
        raise UnprocessableError(
            "Unknown fields: "
            + ", ".join(extra)
            + ". Allowed: "
            + ", ".join(sorted(allowed))
            + "."
        )


def parse_create_body(data: Any, registry: ScopeRegistry) -> ClientSpec:
    """``["a", "b"]`` (Fides' documentation) or
    ``{"scopes": [...], "name": ..., "description": ...}`` (current Fides)."""
    if isinstance(data, list):
        return ClientSpec(scopes=parse_scopes(data, registry))
    if not isinstance(data, dict):
        raise UnprocessableError(
            "The body must be a JSON array of scopes or an object with 'scopes'."
        )
    _check_keys(data, ("scopes", "name", "description"))
    if "scopes" not in data:
        raise UnprocessableError("'scopes' is required (it may be []).")
    return ClientSpec(
        scopes=parse_scopes(data["scopes"], registry),
        name=_name(data.get("name")),
        description=_text_field(
            data.get("description"), "description", DESCRIPTION_MAX_LENGTH
        ),
    )


def parse_update_body(data: Any, registry: ScopeRegistry) -> ClientChanges:
    if not isinstance(data, dict):
        raise UnprocessableError(
            "The body must be a JSON object with any of 'name', 'description', "
            "'scopes'."
        )
    _check_keys(data, ("scopes", "name", "description"))
    return ClientChanges(
        scopes=parse_scopes(data["scopes"], registry) if "scopes" in data else None,
        name=(_name(data["name"]) if "name" in data else _UNSET),
        description=(
            _text_field(data["description"], "description", DESCRIPTION_MAX_LENGTH)
            if "description" in data
            else _UNSET
        ),
    )


def _positive_int(raw: str | None, name: str, default: int, high: int) -> int:
    if raw is None:
        return default
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 9:
        raise UnprocessableError(f"'{name}' must be a whole number from 1 to {high}.")
    value = int(raw)
    if not 1 <= value <= high:
        raise UnprocessableError(f"'{name}' must be a whole number from 1 to {high}.")
    return value


def parse_page_args(page: str | None, size: str | None) -> tuple[int, int]:
    return (
        _positive_int(page, "page", 1, 10**9),
        _positive_int(size, "size", DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE),
    )


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
) -> tuple[OAuthClient, str]:
    """Add a client to the session; returns it and its plaintext secret.

    The caller commits. The secret is returned here and never again.
    """
    reserved = set(reserved_ids)
    client_id = generate_client_id()
    while client_id in reserved:  # pragma: no cover - 2**-128
        client_id = generate_client_id()
    secret = generate_client_secret()
    client = OAuthClient(
        id=client_id,
        secret_hash=hasher.hash(secret),
        scopes=spec.scopes,
        name=spec.name,
        description=spec.description,
        created_by=created_by,
    )
    session.add(client)
    return client, secret


@dataclass(frozen=True)
class Rotation:
    grace_seconds: int = 0
    revoke_tokens: bool = False


#: What a request without a body parses to (JSON ``null`` is a body).
NO_BODY: Any = object()


def parse_rotation_body(data: Any, max_grace: int) -> Rotation:
    """``{"grace_seconds": N, "revoke_tokens": bool}``, both optional; no
    body at all (:data:`NO_BODY`) rotates at once."""
    if data is NO_BODY:
        return Rotation()
    if not isinstance(data, dict):
        raise UnprocessableError(
            "The body, if any, must be a JSON object with 'grace_seconds' "
            "and/or 'revoke_tokens'."
        )
    _check_keys(data, ("grace_seconds", "revoke_tokens"))
    grace = data.get("grace_seconds", 0)
    if isinstance(grace, bool) or not isinstance(grace, int) or grace < 0:
        raise UnprocessableError("'grace_seconds' must be a whole number of seconds.")
    if grace > max_grace:
        raise UnprocessableError(
            f"'grace_seconds' may be at most {max_grace} on this server."
        )
    revoke = data.get("revoke_tokens", False)
    if not isinstance(revoke, bool):
        raise UnprocessableError("'revoke_tokens' must be true or false.")
    return Rotation(grace_seconds=grace, revoke_tokens=revoke)


def rotate_secret(
    hasher: SecretHasher, client: OAuthClient, rotation: Rotation, now: float
) -> str:
    """Give the client a new secret, returned here and never again.

    With a grace period the replaced secret keeps working until it ends; a
    rotation during a grace period ends the older grace (only the secret
    being replaced now is kept).
    """
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
    session: Session, page: int, size: int
) -> tuple[list[OAuthClient], int]:
    total = session.scalar(select(func.count()).select_from(OAuthClient)) or 0
    items = session.scalars(
        select(OAuthClient)
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
        "created_at": _iso(client.created_at),
        "updated_at": _iso(client.updated_at),
    }
