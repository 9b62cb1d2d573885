"""RFC 7662 token introspection at POST /oauth/introspect."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import FakeClock
from tests.conftest import OAuth
from tests.conftest import basic

INTROSPECT = "/api/v1/oauth/introspect"


@pytest.fixture
def introspector(oauth: OAuth) -> dict[str, str]:
    return basic(*oauth.client_with(["token:introspect"])[:2])


def _introspect(oauth: OAuth, headers: dict[str, str], token: str) -> dict[str, object]:
    response = oauth.http.post(INTROSPECT, data={"token": token}, headers=headers)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    return dict(response.get_json())


def test_active_token_answers_its_claims(
    oauth: OAuth, introspector: dict[str, str]
) -> None:
    client_id, _, headers = oauth.client_with(["policy:read", "rule:read"])
    token = headers["Authorization"].split()[1]
    body = _introspect(oauth, introspector, token)
    assert body["active"] is True
    assert body["scope"] == "policy:read rule:read"
    assert body["client_id"] == body["sub"] == client_id
    assert body["token_type"] == "Bearer"
    assert body["iss"] == "http://localhost/api/v1"
    assert isinstance(body["exp"], int) and isinstance(body["iat"], int)
    assert body["exp"] > body["iat"]
    assert body["jti"]


def test_scope_is_the_effective_scope(
    oauth: OAuth, introspector: dict[str, str]
) -> None:
    client_id, _, headers = oauth.client_with(["policy:read", "rule:read"])
    token = headers["Authorization"].split()[1]
    oauth.http.put(
        f"/api/v1/oauth/client/{client_id}/scope",
        json=["rule:read"],
        headers=oauth.root_headers(),
    )
    assert _introspect(oauth, introspector, token)["scope"] == "rule:read"


def test_inactive_tokens_answer_active_false_only(
    oauth: OAuth, introspector: dict[str, str], make_app: object
) -> None:
    client_id, secret, headers = oauth.client_with(["policy:read"])
    token = headers["Authorization"].split()[1]
    tampered = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    for candidate in [tampered, "garbage", "a.b.c"]:
        assert _introspect(oauth, introspector, candidate) == {"active": False}
    # Revoked.
    oauth.http.post(
        "/api/v1/oauth/revoke", data={"token": token}, headers=basic(client_id, secret)
    )
    assert _introspect(oauth, introspector, token) == {"active": False}
    # Deleted client.
    _, _, other = oauth.client_with(["rule:read"])
    other_token = other["Authorization"].split()[1]
    other_id = oauth.http.get(
        "/api/v1/oauth/client", headers=oauth.root_headers()
    ).get_json()["items"]
    victim = next(c for c in other_id if c["scopes"] == ["rule:read"])
    oauth.http.delete(
        f"/api/v1/oauth/client/{victim['client_id']}", headers=oauth.root_headers()
    )
    assert _introspect(oauth, introspector, other_token) == {"active": False}


def test_expired_token_is_inactive(make_app: Any, clock: FakeClock) -> None:
    app = make_app(clock=clock, FIDES_OAUTH_ACCESS_TOKEN_EXPIRE_MINUTES=1)
    oauth = OAuth(app, app.test_client())
    headers = basic(*oauth.client_with(["token:introspect"])[:2])
    token = oauth.root_token()
    assert _introspect(oauth, headers, token)["active"] is True
    clock.advance(120)
    assert _introspect(oauth, headers, token) == {"active": False}


def test_introspection_needs_the_token_introspect_scope(oauth: OAuth) -> None:
    client_id, secret, headers = oauth.client_with(["policy:read"])
    response = oauth.http.post(
        INTROSPECT,
        data={"token": headers["Authorization"].split()[1]},
        headers=basic(client_id, secret),
    )
    assert response.status_code == 403
    assert response.get_json()["error"] == "insufficient_scope"


def test_introspection_needs_client_authentication(oauth: OAuth) -> None:
    response = oauth.http.post(INTROSPECT, data={"token": oauth.root_token()})
    assert response.status_code == 401
    assert response.get_json()["error"] == "invalid_client"


def test_missing_token_parameter_is_invalid_request(
    oauth: OAuth, introspector: dict[str, str]
) -> None:
    response = oauth.http.post(INTROSPECT, data={}, headers=introspector)
    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_request"
