"""RFC 7009 token revocation at POST /oauth/revoke."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import OAuth
from tests.conftest import basic
from tests.conftest import bearer

REVOKE = "/api/v1/oauth/revoke"


@pytest.mark.parametrize("method", ["basic", "post"])
def test_a_client_revokes_its_own_token(oauth: OAuth, method: str) -> None:
    client_id, secret, headers = oauth.client_with(["policy:read"])
    token = headers["Authorization"].split()[1]
    kwargs: dict[str, Any] = (
        {"headers": basic(client_id, secret), "data": {"token": token}}
        if method == "basic"
        else {"data": {"token": token, "client_id": client_id, "client_secret": secret}}
    )
    response = oauth.http.post(REVOKE, **kwargs)
    assert response.status_code == 200
    assert response.get_json() == {}
    refused = oauth.http.get("/api/v1/policy", headers=headers)
    assert refused.status_code == 401
    assert refused.get_json()["error"] == "invalid_token"
    # Only that token: a new one works.
    fresh = bearer(oauth.token(client_id, secret))
    assert oauth.http.get("/api/v1/policy", headers=fresh).status_code == 200


def test_revoking_someone_elses_token_is_200_and_changes_nothing(oauth: OAuth) -> None:
    _, _, victim = oauth.client_with(["policy:read"])
    other_id, other_secret, _ = oauth.client_with(["policy:read"])
    token = victim["Authorization"].split()[1]
    response = oauth.http.post(
        REVOKE, data={"token": token}, headers=basic(other_id, other_secret)
    )
    assert response.status_code == 200
    assert oauth.http.get("/api/v1/policy", headers=victim).status_code == 200


@pytest.mark.parametrize(
    "token", ["not-a-token", "a.b.c", "", "x" * 9000, "eyJhbGciOiJub25lIn0.e30."]
)
def test_unknown_or_malformed_tokens_answer_200_or_400(
    oauth: OAuth, token: str
) -> None:
    client_id, secret, _ = oauth.client_with([])
    response = oauth.http.post(
        REVOKE, data={"token": token}, headers=basic(client_id, secret)
    )
    # RFC 7009 §2.2: an invalid token is 200; a missing one is invalid_request.
    assert response.status_code == (400 if token == "" else 200)
    assert response.mimetype == "application/json"


def test_revocation_needs_client_authentication(oauth: OAuth) -> None:
    _, _, headers = oauth.client_with(["policy:read"])
    token = headers["Authorization"].split()[1]
    response = oauth.http.post(REVOKE, data={"token": token})
    assert response.status_code == 401
    assert response.get_json()["error"] == "invalid_client"
    assert oauth.http.get("/api/v1/policy", headers=headers).status_code == 200


def test_unknown_hint_is_ignored(oauth: OAuth) -> None:
    client_id, secret, headers = oauth.client_with(["policy:read"])
    token = headers["Authorization"].split()[1]
    response = oauth.http.post(
        REVOKE,
        data={"token": token, "token_type_hint": "refresh_token"},
        headers=basic(client_id, secret),
    )
    assert response.status_code == 200
    assert oauth.http.get("/api/v1/policy", headers=headers).status_code == 401


def test_revoking_twice_is_fine(oauth: OAuth) -> None:
    client_id, secret, headers = oauth.client_with(["policy:read"])
    token = headers["Authorization"].split()[1]
    for _ in range(2):
        response = oauth.http.post(
            REVOKE, data={"token": token}, headers=basic(client_id, secret)
        )
        assert response.status_code == 200


def test_root_can_revoke_its_own_token(oauth: OAuth) -> None:
    from tests.conftest import ROOT_ID
    from tests.conftest import ROOT_SECRET

    token = oauth.root_token()
    response = oauth.http.post(
        REVOKE, data={"token": token}, headers=basic(ROOT_ID, ROOT_SECRET)
    )
    assert response.status_code == 200
    assert (
        oauth.http.get("/api/v1/oauth/scope", headers=bearer(token)).status_code == 401
    )
