"""Scope names, the registry of known scopes, containment and intersection.

Framework-neutral: nothing here knows about Flask or the database, so the
rules that decide who may grant what can be tested on their own.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = [
    "BUILTIN_SCOPES",
    "CLIENT_CREATE",
    "CLIENT_DELETE",
    "CLIENT_READ",
    "CLIENT_UPDATE",
    "SCOPE_NAME_MAX_LENGTH",
    "SCOPE_READ",
    "TOKEN_INTROSPECT",
    "ScopeRegistry",
    "is_valid_scope_name",
    "missing_scopes",
    "normalize_scopes",
    "parse_scope_string",
]

CLIENT_CREATE = "client:create"
CLIENT_READ = "client:read"
CLIENT_UPDATE = "client:update"
CLIENT_DELETE = "client:delete"
SCOPE_READ = "scope:read"
TOKEN_INTROSPECT = "token:introspect"  # noqa: S105 - a scope name

#: Scopes the library's own routes need; every registry holds them.
BUILTIN_SCOPES: frozenset[str] = frozenset(
    {
        CLIENT_CREATE,
        CLIENT_READ,
        CLIENT_UPDATE,
        CLIENT_DELETE,
        SCOPE_READ,
        TOKEN_INTROSPECT,
    }
)

SCOPE_NAME_MAX_LENGTH = 100

# Segments of letters, digits, "_", "-" and "." joined by ":" — the shape of
# Fides' scopes ("policy:create_or_update"). No spaces: the token's "scope"
# claim is space-separated (RFC 6749 §3.3), and no quotes or backslashes, so a
# name can always be quoted in an error description or a header.
#: The shape of a scope name (also published in the OpenAPI document).
SCOPE_NAME_PATTERN = r"[A-Za-z0-9_.\-]+(?::[A-Za-z0-9_.\-]+)*"
_SCOPE_NAME = re.compile(SCOPE_NAME_PATTERN)


def is_valid_scope_name(name: object) -> bool:
    """Whether ``name`` may be registered or asked for as a scope."""
    return (
        isinstance(name, str)
        and 0 < len(name) <= SCOPE_NAME_MAX_LENGTH
        and _SCOPE_NAME.fullmatch(name) is not None
    )


def normalize_scopes(scopes: Iterable[str]) -> list[str]:
    """Sorted and without duplicates: the one form scopes are stored in."""
    return sorted(set(scopes))


def parse_scope_string(value: str | None) -> list[str] | None:
    """Split an RFC 6749 ``scope`` parameter; ``None`` when it says nothing."""
    if value is None:
        return None
    parts = value.split(" ")
    names = [part for part in parts if part]
    return names or None


def missing_scopes(held: Iterable[str], wanted: Iterable[str]) -> list[str]:
    """The scopes of ``wanted`` that ``held`` lacks, sorted: empty when contained."""
    return sorted(set(wanted) - set(held))


class ScopeRegistry:
    """The scopes one app knows: the built-ins plus the ones its host declares.

    Immutable once built, so it can be shared by every request of the app.
    """

    __slots__ = ("_scopes",)

    def __init__(self, host_scopes: Iterable[str] = ()) -> None:
        host = list(host_scopes)
        bad = [name for name in host if not is_valid_scope_name(name)]
        if bad:
            raise ValueError(
                f"Malformed scope names {bad!r}: a scope is 1 to "
                f"{SCOPE_NAME_MAX_LENGTH} characters of letters, digits, '_', "
                "'-' and '.', in segments joined by ':' (e.g. 'policy:read')."
            )
        self._scopes = frozenset(BUILTIN_SCOPES | set(host))

    @property
    def all(self) -> frozenset[str]:
        """Every registered scope (the root client holds them all)."""
        return self._scopes

    def __contains__(self, name: object) -> bool:
        return name in self._scopes

    def sorted(self) -> list[str]:
        return sorted(self._scopes)

    def unknown(self, names: Iterable[str]) -> list[str]:
        """The names of ``names`` that are not registered, sorted."""
        return sorted(set(names) - self._scopes)
