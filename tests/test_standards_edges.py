"""The exact words of the RFCs, where an outside conformance run found us
short. Each test quotes the sentence it checks."""

from __future__ import annotations

import base64
import json
import logging
from typing import Any

import pytest
from joserfc import jwt

from tests.conftest import ROOT_ID
from tests.conftest import ROOT_SECRET
from tests.conftest import OAuth
from tests.conftest import assert_error
from tests.conftest import bearer

TOKEN = "/api/v1/oauth/token"
POLICY = "/api/v1/policy"
ROOT = {"client_id": ROOT_ID, "client_secret": ROOT_SECRET}


def _claims(token: str) -> dict[str, Any]:
    part = token.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))))


def _resigned(oauth: OAuth, token: str, typ: str) -> str:
    """The same claims, signed by the app's own key under another ``typ``."""
    with oauth.app.app_context():
        key = oauth.app.extensions["fides_oauth"].core.keys.signing_key()
    header = {"alg": "ES256", "typ": typ, "kid": key.kid}
    return jwt.encode(header, _claims(token), key)


# RFC 9068 §4: "Resource servers MUST verify that the typ header value is
# "at+jwt" or "application/at+jwt" and reject tokens carrying any other value."


@pytest.mark.parametrize("typ", ["at+jwt", "application/at+jwt", "Application/AT+JWT"])
def test_rfc9068_both_typ_forms_are_accepted(oauth: OAuth, typ: str) -> None:
    token = _resigned(oauth, oauth.root_token(), typ)
    assert oauth.http.get(POLICY, headers=bearer(token)).status_code == 200
    introspected = oauth.http.post(
        "/api/v1/oauth/introspect", data={"token": token}, auth=(ROOT_ID, ROOT_SECRET)
    )
    assert introspected.get_json()["active"] is True


@pytest.mark.parametrize("typ", ["JWT", "jwt", "application/jwt", "at+jwt2", ""])
def test_rfc9068_any_other_typ_is_refused(oauth: OAuth, typ: str) -> None:
    token = _resigned(oauth, oauth.root_token(), typ)
    assert_error(oauth.http.get(POLICY, headers=bearer(token)), 401, "invalid_token")


# RFC 6749 §3.2: "Parameters sent without a value MUST be treated as if they
# were omitted from the request."


def test_rfc6749_empty_grant_type_is_an_omitted_grant_type(oauth: OAuth) -> None:
    response = oauth.http.post(TOKEN, data={"grant_type": ""} | ROOT)
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["token_type"] == "Bearer"


def test_rfc6749_empty_scope_is_an_omitted_scope(oauth: OAuth) -> None:
    response = oauth.http.post(TOKEN, data={"scope": ""} | ROOT)
    assert response.status_code == 200
    assert "client:create" in response.get_json()["scope"].split()


def test_rfc6749_empty_secret_is_no_secret(oauth: OAuth) -> None:
    response = oauth.http.post(TOKEN, data={"client_id": ROOT_ID, "client_secret": ""})
    assert_error(response, 401, "invalid_client")


# RFC 6750 §3.1: "If the request lacks any authentication information
# (e.g., the client was unaware that authentication is necessary or attempted
# using an unsupported authentication method), the resource server SHOULD NOT
# include an error code or other error information."


@pytest.mark.parametrize(
    "authorization",
    [None, "Basic cm9vdDpzZWNyZXQ=", "invalid token", "Digest x", "Bearer"],
    ids=["none", "basic", "invalid-scheme", "digest", "bearer-without-token"],
)
def test_rfc6750_other_schemes_get_a_bare_challenge(
    oauth: OAuth, authorization: str | None
) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    response = oauth.http.get(POLICY, headers=headers)
    assert response.status_code == 401
    challenge = response.headers["WWW-Authenticate"]
    assert challenge.startswith("Bearer ")
    assert "error=" not in challenge
    assert response.get_json()["error"] != "unsupported_token_type"


# RFC 8414 §3.3: "The "issuer" value returned MUST be identical to the
# authorization server's issuer identifier value into which the well-known
# URI string was inserted to create the URL used to retrieve the metadata."


def _inserted(issuer: str) -> str:
    """RFC 8414 §3.1: the well-known string between host and path."""
    scheme, rest = issuer.split("://", 1)
    host, _, path = rest.partition("/")
    path = "/" + path if path else ""
    return f"{scheme}://{host}/.well-known/oauth-authorization-server{path}"


@pytest.mark.parametrize(
    "issuer",
    [None, "https://auth.example.org/api/v1", "https://auth.example.org"],
    ids=["derived", "configured-with-path", "configured-without-path"],
)
def test_rfc8414_metadata_is_served_where_its_issuer_says(
    make_app: Any, issuer: str | None
) -> None:
    app = make_app(FIDES_OAUTH_ISSUER=issuer)
    http = app.test_client()
    expected = issuer or "http://localhost/api/v1"
    path = _inserted(expected).split("/", 3)[3]
    response = http.get("/" + path)
    assert response.status_code == 200, path
    assert response.get_json()["issuer"] == expected
    # Every other form is not this issuer's metadata: a JSON 404.
    for other in {
        "/.well-known/oauth-authorization-server",
        "/.well-known/oauth-authorization-server/api/v1",
    } - {"/" + path}:
        assert_error(http.get(other), 404, "not_found")


# Fides refuses an empty or blank client name (its schema's validator).


@pytest.mark.parametrize("name", ["", " ", "\t\n"])
def test_blank_name_is_422_on_create_and_update(oauth: OAuth, name: str) -> None:
    headers = oauth.root_headers()
    before = oauth.snapshot()
    created = oauth.http.post(
        "/api/v1/oauth/client",
        json={"scopes": ["policy:read"], "name": name},
        headers=headers,
    )
    assert_error(created, 422, "invalid_request")
    assert oauth.snapshot() == before
    client = oauth.create_client(["policy:read"], name="kept")
    before = oauth.snapshot()
    updated = oauth.http.put(
        f"/api/v1/oauth/client/{client['client_id']}",
        json={"name": name},
        headers=headers,
    )
    assert_error(updated, 422, "invalid_request")
    assert oauth.snapshot() == before


# Issuer from the Host header: a warning at start-up, and plain-http answers
# that name the fix.


def test_unset_issuer_is_warned_about_outside_debug_and_testing(
    tmp_path: Any, caplog: pytest.LogCaptureFixture
) -> None:
    from examples.host_app import create_app
    from examples.host_app import db
    from tests.conftest import base_config

    with caplog.at_level(logging.WARNING, logger="fides_oauth"):
        app = create_app(base_config(tmp_path) | {"TESTING": False})
    try:
        warnings = [r.getMessage() for r in caplog.records if r.name == "fides_oauth"]
        assert any("FIDES_OAUTH_ISSUER is not set" in w for w in warnings)
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="fides_oauth"):
            configured = create_app(
                base_config(tmp_path)
                | {"TESTING": False, "FIDES_OAUTH_ISSUER": "https://a.example/api/v1"}
            )
        assert not [r for r in caplog.records if "FIDES_OAUTH_ISSUER" in r.getMessage()]
    finally:
        with app.app_context():
            db.engine.dispose()
        with configured.app_context():
            db.engine.dispose()


def test_insecure_transport_names_the_fix(oauth: OAuth) -> None:
    response = oauth.http.post(
        TOKEN, data=ROOT, base_url="http://auth.example.org"
    )  # plain http, not loopback
    body = assert_error(response, 400, "insecure_transport")
    assert "ProxyFix" in body["error_description"]
    assert "AUTHLIB_INSECURE_TRANSPORT" in body["error_description"]
