"""POST /oauth/token: client credentials in, RFC 9068 JWT out (CONTRACT §5.1)."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import pytest

from tests.conftest import ROOT_ID
from tests.conftest import ROOT_SECRET
from tests.conftest import OAuth
from tests.conftest import assert_error
from tests.conftest import basic

TOKEN = "/api/v1/oauth/token"


def _segment(token: str, index: int) -> dict[str, Any]:
    part = token.split(".")[index]
    return dict(json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))))


def test_client_secret_post_gets_a_bearer_token(oauth: OAuth) -> None:
    created = oauth.create_client(["policy:read", "rule:read"])
    response = oauth.http.post(
        TOKEN,
        data={
            "grant_type": "client_credentials",
            "client_id": created["client_id"],
            "client_secret": created["client_secret"],
        },
    )
    assert response.status_code == 200
    body = response.get_json()
    assert set(body) == {"access_token", "token_type", "expires_in", "scope"}
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 3600
    assert body["scope"] == "policy:read rule:read"
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Pragma"] == "no-cache"


def test_client_secret_basic_gets_a_bearer_token(oauth: OAuth) -> None:
    created = oauth.create_client(["rule:read"])
    response = oauth.http.post(
        TOKEN,
        data={"grant_type": "client_credentials"},
        headers=basic(created["client_id"], created["client_secret"]),
    )
    assert response.status_code == 200
    assert response.get_json()["scope"] == "rule:read"


def test_missing_grant_type_means_client_credentials(oauth: OAuth) -> None:
    response = oauth.http.post(
        TOKEN, data={"client_id": ROOT_ID, "client_secret": ROOT_SECRET}
    )
    assert response.status_code == 200
    assert response.get_json()["token_type"] == "Bearer"


@pytest.mark.parametrize("grant_type", ["password", "authorization_code", " ", 'x"y'])
def test_other_grant_types_are_unsupported(oauth: OAuth, grant_type: str) -> None:
    response = oauth.http.post(
        TOKEN,
        data={
            "grant_type": grant_type,
            "client_id": ROOT_ID,
            "client_secret": ROOT_SECRET,
        },
    )
    assert_error(response, 400, "unsupported_grant_type")


def test_requested_scope_narrows_the_token(oauth: OAuth) -> None:
    created = oauth.create_client(["policy:read", "rule:read"])
    response = oauth.http.post(
        TOKEN,
        data={
            "client_id": created["client_id"],
            "client_secret": created["client_secret"],
            "scope": "rule:read",
        },
    )
    assert response.status_code == 200
    assert response.get_json()["scope"] == "rule:read"
    claims = _segment(response.get_json()["access_token"], 1)
    assert claims["scope"] == "rule:read"


@pytest.mark.parametrize(
    "scope", ["client:create", "rule:read client:read", "no:such", 'bad"scope']
)
def test_scope_beyond_the_clients_is_invalid_scope(oauth: OAuth, scope: str) -> None:
    created = oauth.create_client(["rule:read"])
    response = oauth.http.post(
        TOKEN,
        data={
            "client_id": created["client_id"],
            "client_secret": created["client_secret"],
            "scope": scope,
        },
    )
    assert_error(response, 400, "invalid_scope")


def test_client_without_scopes_gets_an_empty_scope(oauth: OAuth) -> None:
    created = oauth.create_client([])
    response = oauth.http.post(
        TOKEN,
        data={
            "client_id": created["client_id"],
            "client_secret": created["client_secret"],
        },
    )
    assert response.status_code == 200
    assert response.get_json()["scope"] == ""


def test_token_is_an_rfc9068_jwt(oauth: OAuth) -> None:
    created = oauth.create_client(["policy:read"])
    before = int(time.time())
    token = oauth.token(created["client_id"], created["client_secret"])
    header, claims = _segment(token, 0), _segment(token, 1)
    assert header["typ"] == "at+jwt"
    assert header["alg"] == "ES256"
    assert header["kid"]
    assert claims["iss"] == "http://localhost/api/v1"
    assert claims["aud"] == "http://localhost/api/v1"
    assert claims["sub"] == claims["client_id"] == created["client_id"]
    assert claims["scope"] == "policy:read"
    assert before <= claims["iat"] <= before + 5
    assert claims["exp"] == claims["iat"] + 3600
    assert len(claims["jti"]) >= 16


def test_two_tokens_have_distinct_ids(oauth: OAuth) -> None:
    first = _segment(oauth.root_token(), 1)
    second = _segment(oauth.root_token(), 1)
    assert first["jti"] != second["jti"]


def test_lifetime_follows_configuration(make_app: Any) -> None:
    app = make_app(FIDES_OAUTH_ACCESS_TOKEN_EXPIRE_MINUTES=5)
    response = app.test_client().post(
        TOKEN, data={"client_id": ROOT_ID, "client_secret": ROOT_SECRET}
    )
    assert response.get_json()["expires_in"] == 300
    claims = _segment(response.get_json()["access_token"], 1)
    assert claims["exp"] - claims["iat"] == 300


def test_configured_issuer_and_audience(make_app: Any) -> None:
    app = make_app(
        FIDES_OAUTH_ISSUER="https://auth.example.org",
        FIDES_OAUTH_AUDIENCE="https://api.example.org",
    )
    response = app.test_client().post(
        TOKEN, data={"client_id": ROOT_ID, "client_secret": ROOT_SECRET}
    )
    claims = _segment(response.get_json()["access_token"], 1)
    assert claims["iss"] == "https://auth.example.org"
    assert claims["aud"] == "https://api.example.org"


def test_root_token_carries_every_registered_scope(oauth: OAuth) -> None:
    claims = _segment(oauth.root_token(), 1)
    response = oauth.http.get(
        "/api/v1/oauth/scope", headers={"Authorization": "Bearer " + oauth.root_token()}
    )
    assert sorted(claims["scope"].split()) == response.get_json()


@pytest.mark.parametrize(
    "data",
    [
        {"client_id": ROOT_ID, "client_secret": "wrong-secret-0123456789"},
        {"client_id": "0" * 32, "client_secret": ROOT_SECRET},
        {"client_id": "no-such-client", "client_secret": "whatever"},
        {"client_id": ROOT_ID},
        {"client_secret": ROOT_SECRET},
        {},
        {"client_id": ROOT_ID, "client_secret": ""},
        {"client_id": ROOT_ID, "client_secret": "x" * 73},
        {"client_id": ROOT_ID, "client_secret": "é" * 40},
        {"client_id": ROOT_ID, "client_secret": ROOT_SECRET + "\x00"},
        {"client_id": ROOT_ID + "\x00", "client_secret": ROOT_SECRET},
        {"client_id": "\x00" * 32, "client_secret": ROOT_SECRET},
        {"client_id": "a" * 10_000, "client_secret": ROOT_SECRET},
    ],
)
def test_bad_credentials_are_invalid_client(oauth: OAuth, data: dict[str, str]) -> None:
    response = oauth.http.post(TOKEN, data=data)
    assert_error(response, 401, "invalid_client")


def test_wrong_secret_of_a_stored_client_is_invalid_client(oauth: OAuth) -> None:
    created = oauth.create_client(["rule:read"])
    for headers, data in [
        (basic(created["client_id"], "wrong"), {}),
        ({}, {"client_id": created["client_id"], "client_secret": "wrong"}),
        (basic(created["client_id"], created["client_secret"] + "x"), {}),
    ]:
        response = oauth.http.post(TOKEN, data=data, headers=headers)
        assert_error(response, 401, "invalid_client")


def test_over_long_secret_that_starts_with_the_right_one_is_refused(
    oauth: OAuth,
) -> None:
    # bcrypt reads 72 bytes: a longer secret must not match on its prefix.
    created = oauth.create_client(["rule:read"])
    padded = created["client_secret"].ljust(72, "A")
    response = oauth.http.post(
        TOKEN,
        data={"client_id": created["client_id"], "client_secret": padded + "tail"},
    )
    assert_error(response, 401, "invalid_client")


@pytest.mark.parametrize(
    "authorization",
    [
        "Basic " + base64.b64encode(b"\xff\xfe:\xff").decode(),
        "Basic " + base64.b64encode(ROOT_ID.encode() + b":\xc3\x28").decode(),
        "Basic !!!not-base64!!!",
        "Basic ",
        "Basic " + base64.b64encode(b"only-an-id").decode(),
        "Bearer something",
        "Basic " + base64.b64encode(b"\x00:\x00").decode(),
    ],
)
def test_odd_basic_headers_are_invalid_client(oauth: OAuth, authorization: str) -> None:
    response = oauth.http.post(TOKEN, data={}, headers={"Authorization": authorization})
    assert_error(response, 401, "invalid_client")


def test_basic_failure_challenges_with_basic(oauth: OAuth) -> None:
    response = oauth.http.post(TOKEN, headers=basic(ROOT_ID, "wrong-secret"))
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Basic ")


def test_non_utf8_form_body_is_invalid_client(oauth: OAuth) -> None:
    response = oauth.http.post(
        TOKEN,
        data=b"client_id=%ff%fe&client_secret=\xff\xfe\x00",
        content_type="application/x-www-form-urlencoded",
    )
    assert_error(response, 401, "invalid_client")


def test_credentials_in_the_query_string_are_not_accepted(oauth: OAuth) -> None:
    response = oauth.http.post(
        TOKEN + f"?client_id={ROOT_ID}&client_secret={ROOT_SECRET}"
    )
    assert_error(response, 401, "invalid_client")


def test_wrong_method_is_json_405(oauth: OAuth) -> None:
    response = oauth.http.get(TOKEN)
    assert_error(response, 405, "method_not_allowed")
    assert response.headers["Allow"] == "POST"


def test_huge_form_is_413(oauth: OAuth) -> None:
    response = oauth.http.post(
        TOKEN, data={"client_id": ROOT_ID, "client_secret": "x" * 200_000}
    )
    assert_error(response, 413, "invalid_request")


def test_plain_http_to_a_remote_host_is_refused(oauth: OAuth) -> None:
    # Authlib requires TLS except on loopback; behind a TLS proxy, ProxyFix.
    response = oauth.http.post(
        TOKEN,
        data={"client_id": ROOT_ID, "client_secret": ROOT_SECRET},
        base_url="http://api.example.org",
    )
    assert_error(response, 400, "insecure_transport")
    response = oauth.http.post(
        TOKEN,
        data={"client_id": ROOT_ID, "client_secret": ROOT_SECRET},
        base_url="https://api.example.org",
    )
    assert response.status_code == 200


@pytest.mark.parametrize("scope", ["", " ", "   "])
def test_empty_or_blank_scope_means_all_the_clients_scopes(
    oauth: OAuth, scope: str
) -> None:
    created = oauth.create_client(["policy:read", "rule:read"])
    response = oauth.http.post(
        TOKEN,
        data={
            "client_id": created["client_id"],
            "client_secret": created["client_secret"],
            "scope": scope,
        },
    )
    assert response.status_code == 200
    assert response.get_json()["scope"] == "policy:read rule:read"


@pytest.mark.parametrize(
    "path", ["/api/v1/oauth/token", "/api/v1/oauth/revoke", "/api/v1/oauth/introspect"]
)
@pytest.mark.parametrize("credentials", ["in the body", "basic"])
def test_a_json_body_is_named_as_the_wrong_encoding(
    oauth: OAuth, path: str, credentials: str
) -> None:
    """RFC 6749 §4.4.2: the client makes the request "using the
    "application/x-www-form-urlencoded" format"; RFC 7009 §2.1 and RFC 7662
    §2.1 say the same of theirs. A JSON body is refused as such (not as a
    client without credentials), even with Basic credentials, whose JSON
    ``scope`` would otherwise be ignored in silence."""
    body = {"grant_type": "client_credentials", "scope": "policy:read", "token": "x"}
    headers = {}
    if credentials == "basic":
        headers = basic(ROOT_ID, ROOT_SECRET)
    else:
        body |= {"client_id": ROOT_ID, "client_secret": ROOT_SECRET}
    response = oauth.http.post(path, json=body, headers=headers)
    described = assert_error(response, 400, "invalid_request")["error_description"]
    assert "application/x-www-form-urlencoded" in described
    assert "application/json" in described


def test_a_bodiless_basic_request_still_gets_a_token(oauth: OAuth) -> None:
    """No body at all is no wrong encoding: Fides' clients omit grant_type."""
    response = oauth.http.post(TOKEN, headers=basic(ROOT_ID, ROOT_SECRET))
    assert response.status_code == 200
