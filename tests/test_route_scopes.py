"""Which scope each client route needs (CONTRACT §5.3), as one table.

Written from the contract, not from the route table, so a route that
checked the wrong scope would fail here.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import NAMED_SCOPES
from tests.conftest import OAuth
from tests.conftest import assert_error

ROUTES = [
    ("POST", "/oauth/client", "client:create", ["policy:read"]),
    ("GET", "/oauth/client", "client:read", None),
    ("GET", "/oauth/client/{id}", "client:read", None),
    ("PUT", "/oauth/client/{id}", "client:update", {"name": "renamed"}),
    ("DELETE", "/oauth/client/{id}", "client:delete", None),
    ("POST", "/oauth/client/{id}/secret", "client:update", None),
    ("POST", "/oauth/client/{id}/revoke-tokens", "client:update", None),
    ("GET", "/oauth/client/{id}/scope", "client:read", None),
    ("PUT", "/oauth/client/{id}/scope", "client:update", []),
    ("GET", "/oauth/scope", "scope:read", None),
]
IDS = [f"{method} {path}" for method, path, _, _ in ROUTES]


def _call(oauth: OAuth, method: str, path: str, body: Any, headers: Any) -> Any:
    target = oauth.create_client([])  # holds nothing: containment passes
    url = oauth.url(path.replace("{id}", target["client_id"]))
    kwargs = {"json": body} if body is not None else {}
    return oauth.http.open(url, method=method, headers=headers, **kwargs)


@pytest.mark.parametrize(("method", "path", "scope", "body"), ROUTES, ids=IDS)
def test_the_route_needs_its_scope(
    oauth: OAuth, method: str, path: str, scope: str, body: Any
) -> None:
    everything_else = sorted(NAMED_SCOPES - {scope})
    _, _, without = oauth.client_with(everything_else)
    refused = _call(oauth, method, path, body, without)
    assert_error(refused, 403, "insufficient_scope")
    assert scope in refused.headers["WWW-Authenticate"]
    _, _, only = oauth.client_with([scope, "policy:read"])
    allowed = _call(oauth, method, path, body, only)
    assert allowed.status_code in (200, 204), allowed.get_json()


@pytest.mark.parametrize(("method", "path", "scope", "body"), ROUTES, ids=IDS)
def test_the_route_needs_a_token(
    oauth: OAuth, method: str, path: str, scope: str, body: Any
) -> None:
    response = _call(oauth, method, path, body, {})
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
