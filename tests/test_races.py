"""A change judged against a client's scopes cannot land after they changed.

The weaker caller's check reads the target, the root grants the target more
scopes meanwhile, and the caller's write then finds the client changed:
409, nothing written (optimistic concurrency on the client's version).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from fides_oauth import clients
from tests.conftest import OAuth


@pytest.fixture
def two_workers(make_app: Any) -> tuple[OAuth, OAuth]:
    first, second = make_app(), make_app()
    return OAuth(first, first.test_client()), OAuth(second, second.test_client())


def _meanwhile(
    monkeypatch: pytest.MonkeyPatch, name: str, action: Callable[[], None]
) -> None:
    """Run ``action`` (another worker's commit) just before the first call of
    ``clients.name``; later calls, the other worker's included, pass through."""
    real = getattr(clients, name)
    pending = [action]

    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if pending:
            pending.pop()()
        return real(*args, **kwargs)

    monkeypatch.setattr(clients, name, wrapped)


@pytest.mark.parametrize("route", ["rotate", "revoke", "update", "scope"])
def test_weaker_caller_racing_a_grant_gets_409(
    two_workers: tuple[OAuth, OAuth], monkeypatch: pytest.MonkeyPatch, route: str
) -> None:
    one, other = two_workers
    target = one.create_client(["policy:read"])
    _, _, weak = one.client_with(["client:update", "policy:read"])
    tid = target["client_id"]
    root = other.root_headers()

    def grant() -> None:
        response = other.http.put(
            f"/api/v1/oauth/client/{tid}/scope",
            json=["client:create", "policy:read"],
            headers=root,
        )
        assert response.status_code == 200

    if route == "rotate":
        _meanwhile(monkeypatch, "rotate_secret", grant)
        response = one.http.post(f"/api/v1/oauth/client/{tid}/secret", headers=weak)
    elif route == "revoke":
        _meanwhile(monkeypatch, "revoke_tokens", grant)
        response = one.http.post(
            f"/api/v1/oauth/client/{tid}/revoke-tokens", headers=weak
        )
    else:
        # update and set-scopes judge the target in ensure_holds, then write.
        _meanwhile(monkeypatch, "ensure_holds", grant)
        if route == "update":
            response = one.http.put(
                f"/api/v1/oauth/client/{tid}", json={"name": "mine"}, headers=weak
            )
        else:
            response = one.http.put(
                f"/api/v1/oauth/client/{tid}/scope", json=["policy:read"], headers=weak
            )
    assert response.status_code == 409, response.get_json()
    assert response.get_json()["error"] == "conflict"
    assert "client_secret" not in response.get_json()
    # The grant stands and the target's secret still works.
    assert one.token(tid, target["client_secret"])
    shown = one.http.get(f"/api/v1/oauth/client/{tid}", headers=one.root_headers())
    assert shown.get_json()["scopes"] == ["client:create", "policy:read"]
    assert shown.get_json()["name"] is None


def test_delete_racing_a_grant_gets_409(
    two_workers: tuple[OAuth, OAuth], monkeypatch: pytest.MonkeyPatch
) -> None:
    one, other = two_workers
    target = one.create_client(["policy:read"])
    _, _, weak = one.client_with(["client:delete", "policy:read"])
    tid = target["client_id"]

    def grant() -> None:
        other.http.put(
            f"/api/v1/oauth/client/{tid}/scope",
            json=["client:create", "policy:read"],
            headers=other.root_headers(),
        )

    _meanwhile(monkeypatch, "ensure_holds", grant)
    response = one.http.delete(f"/api/v1/oauth/client/{tid}", headers=weak)
    assert response.status_code == 409
    monkeypatch.undo()
    assert (
        one.http.get(
            f"/api/v1/oauth/client/{tid}", headers=one.root_headers()
        ).status_code
        == 200
    )
