"""The layout holds: no import cycles, a core without Flask, small modules.

Read from the source with ``ast``, so a ``TYPE_CHECKING`` import counts as
an import: a type-only cycle usually mirrors an object cycle.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "fides_oauth"

#: The framework-neutral core: testable, and usable, without Flask.
CORE = {
    "admin_sessions",
    "assertions",
    "telemetry",
    "audit_trail",
    "bodies",
    "cache",
    "change_feeds",
    "client_auth",
    "client_metadata",
    "clients",
    "client",
    "config",
    "core",
    "dpop",
    "dpop_nonces",
    "errors",
    "fast_reader",
    "hashing",
    "invalidation",
    "jwks_fetch",
    "keys",
    "limits",
    "management",
    "models",
    "outages",
    "scopes",
    "sealing",
    "settings",
    "seams",
    "shared_redis",
    "shared_sql",
    "store",
    "tokens",
    "transient",
    "usage",
}
FRAMEWORK = ("flask", "werkzeug", "authlib.integrations")
#: Declarative data may run longer (the OpenAPI descriptions).
LONG_ALLOWED = {"openapi"}
MAX_LINES = 400


def _modules() -> dict[str, ast.Module]:
    return {
        path.stem: ast.parse(path.read_text(), str(path))
        for path in PACKAGE.glob("*.py")
        if path.stem != "__init__"
    }


def _imports(tree: ast.Module) -> tuple[set[str], set[str]]:
    """(library modules, other top-level modules) a module imports,
    ``TYPE_CHECKING`` blocks and function bodies included."""
    ours: set[str] = set()
    others: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level == 1:
                if node.module:
                    ours.add(node.module.split(".")[0])
                else:
                    ours.update(alias.name for alias in node.names)
            elif node.module:
                others.add(node.module)
        elif isinstance(node, ast.Import):
            others.update(alias.name for alias in node.names)
    return ours, others


def test_the_core_modules_exist() -> None:
    assert set(_modules()) >= CORE


def test_no_import_cycles() -> None:
    graph = {
        name: _imports(tree)[0] & set(_modules()) for name, tree in _modules().items()
    }
    state = dict.fromkeys(graph, 0)  # 0 new, 1 on the path, 2 done
    path: list[str] = []

    def visit(name: str) -> None:
        state[name] = 1
        path.append(name)
        for other in sorted(graph[name]):
            if state[other] == 1:
                cycle = [*path[path.index(other) :], other]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if state[other] == 0:
                visit(other)
        path.pop()
        state[name] = 2

    for name in sorted(graph):
        if state[name] == 0:
            visit(name)


@pytest.mark.parametrize("name", sorted(CORE))
def test_the_core_does_not_import_flask(name: str) -> None:
    ours, others = _imports(_modules()[name])
    assert not ours - CORE, f"{name} imports the Flask layer: {sorted(ours - CORE)}"
    framework = sorted(m for m in others if m.startswith(FRAMEWORK))
    assert not framework, f"{name} imports {framework}"


@pytest.mark.parametrize("path", sorted(PACKAGE.glob("*.py")), ids=lambda p: p.stem)
def test_modules_stay_small(path: Path) -> None:
    if path.stem in LONG_ALLOWED:
        return
    lines = len(path.read_text().splitlines())
    assert lines <= MAX_LINES, f"{path.name} has {lines} lines"
