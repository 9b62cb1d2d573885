"""What a request body may say about a client: parsed and checked once.

The HTTP views and the CLI turn their input into these values before any
lookup or write, so a malformed body changes nothing and a body check comes
before the target client's existence (a malformed body to an unknown client
is 422, not 404). Nothing here touches storage or Flask.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from typing import Any

from .client_metadata import FIELDS as METADATA_FIELDS
from .client_metadata import MetadataChanges
from .client_metadata import parse_metadata
from .errors import UnknownScopesError
from .errors import UnprocessableError
from .models import DESCRIPTION_MAX_LENGTH
from .models import NAME_MAX_LENGTH
from .scopes import ScopeRegistry
from .scopes import is_valid_scope_name
from .scopes import normalize_scopes

__all__ = [
    "DEFAULT_PAGE_SIZE",
    "MAX_PAGE",
    "MAX_PAGE_SIZE",
    "MAX_SCOPES_IN_BODY",
    "NO_BODY",
    "ClientChanges",
    "ClientSpec",
    "Rotation",
    "is_storable_text",
    "parse_create_body",
    "parse_page_args",
    "parse_rotation_body",
    "parse_scopes",
    "parse_update_body",
]

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 100
#: The highest page number a query may ask for (nine digits at most).
MAX_PAGE = 999_999_999
MAX_SCOPES_IN_BODY = 1000

# -- request bodies --------------------------------------------------------


@dataclass(frozen=True)
class ClientSpec:
    scopes: list[str]
    name: str | None = None
    description: str | None = None
    metadata: MetadataChanges = field(default_factory=MetadataChanges)


_UNSET: Any = object()


@dataclass(frozen=True)
class ClientChanges:
    """A PUT body: only the fields it names are changed."""

    scopes: list[str] | None = None
    name: str | None = _UNSET
    description: str | None = _UNSET
    metadata: MetadataChanges = field(default_factory=MetadataChanges)

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
    if not is_storable_text(value):
        raise UnprocessableError(
            f"'{field}' contains a control character or invalid Unicode."
        )
    return value


def is_storable_text(value: str) -> bool:
    """No control character — C0 (NUL above all, which PostgreSQL refuses),
    DEL and C1 — and no lone surrogate (not encodable); tab and newline
    pass. Text from a request meets this before it reaches the database."""
    return not any(
        unicodedata.category(ch) in ("Cc", "Cs") and ch not in "\t\n\r" for ch in value
    )


def _name(value: Any) -> str | None:
    return _text_field(value, "name", NAME_MAX_LENGTH, allow_blank=False)


def parse_scopes(
    value: Any, registry: ScopeRegistry, field: str = "scopes"
) -> list[str]:
    """A JSON array of registered scope names, normalized."""
    if not isinstance(value, list):
        raise UnprocessableError(f"'{field}' must be a JSON array of scope names.")
    if len(value) > MAX_SCOPES_IN_BODY:
        raise UnprocessableError(
            f"'{field}' lists more than {MAX_SCOPES_IN_BODY} scopes."
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


def parse_create_body(
    data: Any, registry: ScopeRegistry, allow_loopback_http: bool = False
) -> ClientSpec:
    """``["a", "b"]`` (Fides' documentation) or
    ``{"scopes": [...], "name": ..., "description": ...}`` (current Fides)."""
    if isinstance(data, list):
        return ClientSpec(scopes=parse_scopes(data, registry))
    if not isinstance(data, dict):
        raise UnprocessableError(
            "The body must be a JSON array of scopes or an object with 'scopes'."
        )
    _check_keys(data, ("scopes", "name", "description", *METADATA_FIELDS))
    if "scopes" not in data:
        raise UnprocessableError("'scopes' is required (it may be []).")
    return ClientSpec(
        scopes=parse_scopes(data["scopes"], registry),
        name=_name(data.get("name")),
        description=_text_field(
            data.get("description"), "description", DESCRIPTION_MAX_LENGTH
        ),
        metadata=parse_metadata(data, allow_loopback_http),
    )


def parse_update_body(
    data: Any, registry: ScopeRegistry, allow_loopback_http: bool = False
) -> ClientChanges:
    if not isinstance(data, dict):
        raise UnprocessableError(
            "The body must be a JSON object with any of 'name', 'description', "
            "'scopes'."
        )
    _check_keys(data, ("scopes", "name", "description", *METADATA_FIELDS))
    return ClientChanges(
        metadata=parse_metadata(data, allow_loopback_http),
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
    if not (raw.isascii() and raw.isdigit()) or len(raw) > len(str(MAX_PAGE)):
        raise UnprocessableError(f"'{name}' must be a whole number from 1 to {high}.")
    value = int(raw)
    if not 1 <= value <= high:
        raise UnprocessableError(f"'{name}' must be a whole number from 1 to {high}.")
    return value


def parse_page_args(page: str | None, size: str | None) -> tuple[int, int]:
    return (
        _positive_int(page, "page", 1, MAX_PAGE),
        _positive_int(size, "size", DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE),
    )


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
