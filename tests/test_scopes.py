"""Scope names, the registry, containment: no app needed."""

from __future__ import annotations

import pytest

from fides_oauth.scopes import BUILTIN_SCOPES
from fides_oauth.scopes import ScopeRegistry
from fides_oauth.scopes import is_valid_scope_name
from fides_oauth.scopes import missing_scopes
from fides_oauth.scopes import normalize_scopes
from fides_oauth.scopes import parse_scope_string


@pytest.mark.parametrize(
    "name", ["policy:read", "policy:create_or_update", "a", "a.b-c_d:e", "x" * 100]
)
def test_well_formed_names(name: str) -> None:
    assert is_valid_scope_name(name)


@pytest.mark.parametrize(
    "name",
    [
        "",
        " ",
        "a b",
        ":a",
        "a:",
        "a::b",
        'a"b',
        "a\\b",
        "é",
        "a\x00",
        "x" * 101,
        5,
        None,
    ],
)
def test_malformed_names(name: object) -> None:
    assert not is_valid_scope_name(name)


def test_registry_holds_builtins_and_host_scopes() -> None:
    registry = ScopeRegistry(["policy:read"])
    assert registry.all == BUILTIN_SCOPES | {"policy:read"}
    assert "client:create" in registry and "policy:read" in registry
    assert "rule:read" not in registry
    assert registry.sorted() == sorted(registry.all)
    assert registry.unknown(["rule:read", "policy:read", "a"]) == ["a", "rule:read"]


def test_builtin_scopes_are_the_contracts() -> None:
    assert {
        "client:create",
        "client:read",
        "client:update",
        "client:delete",
        "scope:read",
        "token:introspect",
    } == BUILTIN_SCOPES


def test_registry_refuses_malformed_host_scopes() -> None:
    with pytest.raises(ValueError, match="Malformed scope names"):
        ScopeRegistry(["ok:scope", "not ok"])


def test_containment_lists_what_is_missing() -> None:
    assert missing_scopes({"a", "b"}, ["a"]) == []
    assert missing_scopes({"a"}, ["c", "a", "b"]) == ["b", "c"]
    assert missing_scopes([], []) == []


def test_scope_parameter_parsing() -> None:
    assert parse_scope_string(None) is None
    assert parse_scope_string("") is None
    assert parse_scope_string("   ") is None
    assert parse_scope_string("a  b") == ["a", "b"]
    assert normalize_scopes(["b", "a", "b"]) == ["a", "b"]
