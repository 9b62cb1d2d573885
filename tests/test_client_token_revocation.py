"""Revoking every token issued to a client, without deleting it (CVE-2025-57766)."""

from __future__ import annotations

from tests.conftest import OAuth
from tests.conftest import bearer


def test_revoke_tokens_invalidates_issued_tokens_only(oauth: OAuth) -> None:
    client_id, secret, old_headers = oauth.client_with(["policy:read"])
    response = oauth.http.post(
        f"/api/v1/oauth/client/{client_id}/revoke-tokens", headers=oauth.root_headers()
    )
    assert response.status_code == 200
    assert response.get_json() == {"client_id": client_id, "tokens_revoked": True}
    refused = oauth.http.get("/api/v1/policy", headers=old_headers)
    assert refused.status_code == 401
    assert refused.get_json()["error"] == "invalid_token"
    # The client still exists and gets working tokens at once.
    fresh = bearer(oauth.token(client_id, secret))
    assert oauth.http.get("/api/v1/policy", headers=fresh).status_code == 200


def test_rotation_can_revoke_in_the_same_step(oauth: OAuth) -> None:
    client_id, _, old_headers = oauth.client_with(["policy:read"])
    response = oauth.http.post(
        f"/api/v1/oauth/client/{client_id}/secret",
        json={"revoke_tokens": True},
        headers=oauth.root_headers(),
    )
    assert response.status_code == 200
    assert response.get_json()["tokens_revoked"] is True
    assert oauth.http.get("/api/v1/policy", headers=old_headers).status_code == 401
    new = bearer(oauth.token(client_id, response.get_json()["client_secret"]))
    assert oauth.http.get("/api/v1/policy", headers=new).status_code == 200


def test_rotation_alone_leaves_tokens_valid(oauth: OAuth) -> None:
    client_id, _, headers = oauth.client_with(["policy:read"])
    oauth.http.post(
        f"/api/v1/oauth/client/{client_id}/secret", headers=oauth.root_headers()
    )
    assert oauth.http.get("/api/v1/policy", headers=headers).status_code == 200


def test_revoke_tokens_needs_the_targets_scopes(oauth: OAuth) -> None:
    target_id, _, target_headers = oauth.client_with(["policy:read", "rule:read"])
    _, _, weak = oauth.client_with(["client:update", "rule:read"])
    before = oauth.snapshot()
    response = oauth.http.post(
        f"/api/v1/oauth/client/{target_id}/revoke-tokens", headers=weak
    )
    assert response.status_code == 403
    assert response.get_json()["missing_scopes"] == ["policy:read"]
    assert oauth.snapshot() == before
    assert oauth.http.get("/api/v1/policy", headers=target_headers).status_code == 200


def test_revoke_tokens_of_unknown_or_root_client_is_404(oauth: OAuth) -> None:
    for client_id in ["0" * 32, "root-client-for-tests", "x"]:
        response = oauth.http.post(
            f"/api/v1/oauth/client/{client_id}/revoke-tokens",
            headers=oauth.root_headers(),
        )
        assert response.status_code == 404


def test_revoke_tokens_needs_client_update(oauth: OAuth) -> None:
    target_id, _, _ = oauth.client_with([])
    _, _, reader = oauth.client_with(["client:read"])
    response = oauth.http.post(
        f"/api/v1/oauth/client/{target_id}/revoke-tokens", headers=reader
    )
    assert response.status_code == 403
    assert response.get_json()["error"] == "insufficient_scope"


def test_the_root_clients_tokens_are_revoked_from_the_cli(oauth: OAuth) -> None:
    # The root client is not in the store and answers 404 on the API; an
    # operator who suspects its secret must still be able to end its tokens.
    token = oauth.root_token()
    headers = bearer(token)
    assert oauth.http.get("/api/v1/oauth/scope", headers=headers).status_code == 200
    result = oauth.app.test_cli_runner().invoke(
        args=["fides-oauth", "revoke-tokens", "root-client-for-tests"]
    )
    assert result.exit_code == 0, result.output
    assert oauth.http.get("/api/v1/oauth/scope", headers=headers).status_code == 401
    fresh = bearer(oauth.root_token())
    assert oauth.http.get("/api/v1/oauth/scope", headers=fresh).status_code == 200
