"""RFC 8414 metadata, the JWK Set, and signing-key rotation."""

from __future__ import annotations

import base64
import json
from typing import Any

from joserfc import jwt
from joserfc.jwk import KeySet

from fides_oauth import rotate_signing_key
from tests.conftest import FakeClock
from tests.conftest import OAuth
from tests.conftest import bearer


def _kid(token: str) -> str:
    part = token.split(".")[0]
    return str(
        json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))["kid"]
    )


def test_metadata_lists_the_endpoints(oauth: OAuth) -> None:
    # RFC 8414 §3: the issuer http://localhost/api/v1 has its metadata at
    # the path-inserted form only (the root form is an issuer with no path).
    for path in ["/.well-known/oauth-authorization-server/api/v1"]:
        response = oauth.http.get(path)
        assert response.status_code == 200
        body = response.get_json()
        assert body["issuer"] == "http://localhost/api/v1"
        assert body["token_endpoint"] == "http://localhost/api/v1/oauth/token"
        assert body["revocation_endpoint"] == "http://localhost/api/v1/oauth/revoke"
        assert (
            body["introspection_endpoint"] == "http://localhost/api/v1/oauth/introspect"
        )
        assert body["jwks_uri"] == "http://localhost/api/v1/oauth/jwks"
        assert body["grant_types_supported"] == ["client_credentials"]
        assert body["token_endpoint_auth_methods_supported"] == [
            "client_secret_basic",
            "client_secret_post",
            "private_key_jwt",
        ]
        assert body["token_endpoint_auth_signing_alg_values_supported"] == [
            "ES256",
            "ES384",
            "RS256",
            "PS256",
            "EdDSA",
        ]
        assert "policy:read" in body["scopes_supported"]
        assert "token:introspect" in body["scopes_supported"]


def test_metadata_issuer_is_the_tokens_issuer(oauth: OAuth) -> None:
    token = oauth.root_token()
    part = token.split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    issuer = oauth.http.get(
        "/.well-known/oauth-authorization-server/api/v1"
    ).get_json()["issuer"]
    assert claims["iss"] == issuer


def test_metadata_can_be_turned_off(make_app: Any) -> None:
    app = make_app(FIDES_OAUTH_SERVER_METADATA=False)
    http = app.test_client()
    assert http.get("/.well-known/oauth-authorization-server/api/v1").status_code == 404


def test_configured_issuer_is_announced(make_app: Any) -> None:
    app = make_app(FIDES_OAUTH_ISSUER="https://auth.example.org/api/v1")
    body = (
        app.test_client()
        .get("/.well-known/oauth-authorization-server/api/v1")
        .get_json()
    )
    assert body["issuer"] == "https://auth.example.org/api/v1"


def test_jwks_verifies_tokens_and_is_cacheable(oauth: OAuth) -> None:
    token = oauth.root_token()
    response = oauth.http.get("/api/v1/oauth/jwks")
    assert response.status_code == 200
    assert "max-age" in response.headers["Cache-Control"]
    body = response.get_json()
    (key,) = body["keys"]
    assert key["kid"] == _kid(token)
    assert key["alg"] == "ES256" and key["use"] == "sig"
    assert "d" not in key  # never the private part
    decoded = jwt.decode(token, KeySet.import_key_set(body), algorithms=["ES256"])
    assert decoded.header["kid"] == key["kid"]


def test_key_rotation_keeps_old_tokens_valid_and_signs_with_the_new_key(
    oauth: OAuth,
) -> None:
    old_token = oauth.root_token()
    new_kid = rotate_signing_key(oauth.app)
    assert new_kid != _kid(old_token)
    new_token = oauth.root_token()
    assert _kid(new_token) == new_kid
    kids = {k["kid"] for k in oauth.http.get("/api/v1/oauth/jwks").get_json()["keys"]}
    assert kids == {new_kid, _kid(old_token)}
    for token in (old_token, new_token):
        response = oauth.http.get("/api/v1/oauth/scope", headers=bearer(token))
        assert response.status_code == 200


def test_retired_key_drops_out_after_the_token_lifetime(
    make_app: Any, clock: FakeClock
) -> None:
    app = make_app(clock=clock)
    oauth = OAuth(app, app.test_client())
    old_token = oauth.root_token()
    rotate_signing_key(oauth.app)
    clock.advance(3601)
    kids = [k["kid"] for k in oauth.http.get("/api/v1/oauth/jwks").get_json()["keys"]]
    assert _kid(old_token) not in kids
    assert len(kids) == 1


def test_another_worker_picks_up_a_rotation(make_app: Any) -> None:
    first, second = make_app(), make_app()  # two workers, one database
    one, two = OAuth(first, first.test_client()), OAuth(second, second.test_client())
    one.root_token()
    two.root_token()  # both have loaded the first key
    new_kid = rotate_signing_key(first)
    token = one.root_token()
    assert _kid(token) == new_kid
    # The second worker does not know the key yet, and looks it up.
    assert two.http.get("/api/v1/oauth/scope", headers=bearer(token)).status_code == 200


def test_cli_rotates_the_key(app: Any) -> None:
    result = app.test_cli_runner().invoke(args=["fides-oauth", "rotate-signing-key"])
    assert result.exit_code == 0
    assert "New signing key" in result.output


def test_configured_key_cannot_be_rotated_here(make_app: Any) -> None:
    import pytest
    from joserfc.jwk import ECKey

    pem = ECKey.generate_key("P-256", private=True).as_pem(private=True).decode()
    app = make_app(FIDES_OAUTH_SIGNING_KEY=pem)
    with pytest.raises(RuntimeError, match="FIDES_OAUTH_SIGNING_KEY"):
        rotate_signing_key(app)
    result = app.test_cli_runner().invoke(args=["fides-oauth", "rotate-signing-key"])
    assert result.exit_code != 0
