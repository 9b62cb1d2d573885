"""Protected host routes and the ``require_scopes`` decorator (CONTRACT §5.4)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask import jsonify
from joserfc import jwt
from joserfc.jwk import ECKey

from fides_oauth import current_client
from fides_oauth import require_scopes
from tests.conftest import ROOT_ID
from tests.conftest import ROOT_SECRET
from tests.conftest import OAuth
from tests.conftest import assert_error
from tests.conftest import basic
from tests.conftest import bearer

POLICY = "/api/v1/policy"
RULE = "/api/v1/rule"


def _b64(data: bytes | dict[str, Any]) -> str:
    raw = json.dumps(data).encode() if isinstance(data, dict) else data
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _segment(token: str, index: int) -> dict[str, Any]:
    part = token.split(".")[index]
    return dict(json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))))


# The reference host signs with this key (FIDES_OAUTH_SIGNING_KEY, see the
# ``app`` fixture below), so tests can forge tokens exactly as it would.
SIGNING_PEM = ECKey.generate_key("P-256").as_pem(private=True).decode()
SIGNING_KEY = ECKey.import_key(SIGNING_PEM)
SIGNING_KEY.ensure_kid()


def _sign(key: ECKey, claims: dict[str, Any], **header: Any) -> str:
    fields = {"alg": "ES256", "typ": "at+jwt", "kid": key.kid} | header
    return jwt.encode({k: v for k, v in fields.items() if v is not None}, claims, key)


def _flip(token: str, segment: int) -> str:
    parts = token.split(".")
    part = parts[segment]
    middle = len(part) // 2
    parts[segment] = (
        part[:middle] + ("A" if part[middle] != "A" else "B") + part[middle + 1 :]
    )
    return ".".join(parts)


def _hs256_with_public_key(key: ECKey, claims: dict[str, Any]) -> str:
    # The classic algorithm confusion: the public key used as an HMAC secret.
    signing_input = _b64({"alg": "HS256", "typ": "at+jwt"}) + "." + _b64(claims)
    mac = hmac.new(key.as_pem(private=False), signing_input.encode(), hashlib.sha256)
    return signing_input + "." + _b64(mac.digest())


def _expired(claims: dict[str, Any]) -> dict[str, Any]:
    now = int(time.time())
    return claims | {"iat": now - 7200, "exp": now - 60}


# Each builder gets a valid token of a policy:read client, its claims and the
# app's signing key, and returns a token that must be refused.
BAD_TOKENS: dict[str, Callable[[str, dict[str, Any], ECKey], str]] = {
    "garbage": lambda t, c, k: "not-a-token",
    "two-segments": lambda t, c, k: t.rsplit(".", 1)[0],
    "empty-segments": lambda t, c, k: "..",
    "payload-tampered": lambda t, c, k: _flip(t, 1),
    "signature-tampered": lambda t, c, k: _flip(t, 2),
    "signature-stripped": lambda t, c, k: t.rsplit(".", 1)[0] + ".",
    "claims-swapped-under-old-signature": lambda t, c, k: ".".join(
        [t.split(".")[0], _b64(c | {"scope": "policy:read rule:read"}), t.split(".")[2]]
    ),
    "other-key": lambda t, c, k: _sign(ECKey.generate_key("P-256"), c, kid=None),
    "other-key-same-kid": lambda t, c, k: _sign(
        ECKey.generate_key("P-256"), c, kid=k.kid
    ),
    "alg-none": lambda t, c, k: (
        _b64({"alg": "none", "typ": "at+jwt"}) + "." + _b64(c) + "."
    ),
    "hs256-with-public-key": lambda t, c, k: _hs256_with_public_key(k, c),
    "typ-JWT": lambda t, c, k: _sign(k, c, typ="JWT"),
    "typ-missing": lambda t, c, k: _sign(k, c, typ=None),
    "wrong-iss": lambda t, c, k: _sign(k, c | {"iss": "https://evil.example"}),
    "wrong-aud": lambda t, c, k: _sign(k, c | {"aud": "https://other-api.example"}),
    "expired": lambda t, c, k: _sign(k, _expired(c)),
    "no-exp": lambda t, c, k: _sign(k, {n: v for n, v in c.items() if n != "exp"}),
    "not-yet-valid": lambda t, c, k: _sign(k, c | {"nbf": int(time.time()) + 3600}),
    "client-id-not-a-string": lambda t, c, k: _sign(k, c | {"client_id": 7}),
    "scope-not-a-string": lambda t, c, k: _sign(k, c | {"scope": ["policy:read"]}),
    "unknown-client": lambda t, c, k: _sign(
        k, c | {"client_id": "0" * 32, "sub": "0" * 32}
    ),
}


@pytest.fixture
def app(make_app: Any) -> Flask:
    return make_app(FIDES_OAUTH_SIGNING_KEY=SIGNING_PEM)


@pytest.fixture
def policy_token(oauth: OAuth) -> str:
    _, _, headers = oauth.client_with(["policy:read"])
    return headers["Authorization"].split(" ", 1)[1]


def test_no_authorization_header_is_401_with_a_bearer_challenge(oauth: OAuth) -> None:
    response = oauth.http.get(POLICY)
    assert response.status_code == 401
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert body["error"] and body["error_description"]
    challenge = response.headers["WWW-Authenticate"]
    assert challenge.startswith("Bearer ")
    assert 'realm="' in challenge
    assert "error=" not in challenge  # RFC 6750 §3.1: no code without credentials


def test_valid_token_with_the_routes_scope_is_let_through(
    oauth: OAuth, policy_token: str
) -> None:
    response = oauth.http.get(POLICY, headers=bearer(policy_token))
    assert response.status_code == 200
    assert response.get_json()["client_id"] == _segment(policy_token, 1)["client_id"]


def test_token_forged_here_with_the_apps_key_is_accepted(
    oauth: OAuth, policy_token: str
) -> None:
    # The control for the forged cases below: the same claims under the
    # app's own key pass, so each refusal is for the one thing changed.
    forged = _sign(SIGNING_KEY, _segment(policy_token, 1))
    assert _segment(forged, 0) == _segment(policy_token, 0)
    assert oauth.http.get(POLICY, headers=bearer(forged)).status_code == 200


@pytest.mark.parametrize("build", BAD_TOKENS.values(), ids=BAD_TOKENS.keys())
def test_bad_token_is_401_invalid_token(
    oauth: OAuth,
    policy_token: str,
    build: Callable[[str, dict[str, Any], ECKey], str],
) -> None:
    token = build(policy_token, _segment(policy_token, 1), SIGNING_KEY)
    response = oauth.http.get(POLICY, headers=bearer(token))
    assert_error(response, 401, "invalid_token")
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]


def test_token_of_a_deleted_client_is_401_invalid_token(oauth: OAuth) -> None:
    client_id, _, headers = oauth.client_with(["policy:read"])
    assert oauth.http.get(POLICY, headers=headers).status_code == 200
    deleted = oauth.http.delete(
        oauth.url(f"/oauth/client/{client_id}"), headers=oauth.root_headers()
    )
    assert deleted.status_code in (200, 204)
    assert_error(oauth.http.get(POLICY, headers=headers), 401, "invalid_token")


def test_token_of_one_app_is_refused_by_another(make_app: Any, tmp_path: Any) -> None:
    # Two deployments, each with its own database and so its own signing key.
    first_app = make_app()
    second_app = make_app(SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'b.sqlite'}")
    first = OAuth(first_app, first_app.test_client())
    second = OAuth(second_app, second_app.test_client())
    token = first.root_token()
    assert first.http.get(POLICY, headers=bearer(token)).status_code == 200
    assert second.http.get(POLICY, headers=second.root_headers()).status_code == 200
    assert_error(second.http.get(POLICY, headers=bearer(token)), 401, "invalid_token")


def test_token_without_the_routes_scope_is_403_insufficient_scope(oauth: OAuth) -> None:
    _, _, headers = oauth.client_with(["rule:read"])
    assert oauth.http.get(RULE, headers=headers).status_code == 200
    response = oauth.http.get(POLICY, headers=headers)
    assert_error(response, 403, "insufficient_scope")
    challenge = response.headers["WWW-Authenticate"]
    assert 'error="insufficient_scope"' in challenge
    assert 'scope="policy:read"' in challenge


def test_removing_a_scope_takes_effect_on_an_issued_token_at_once(oauth: OAuth) -> None:
    client_id, _, headers = oauth.client_with(["policy:read", "rule:read"])
    assert oauth.http.get(POLICY, headers=headers).status_code == 200
    response = oauth.http.put(
        oauth.url(f"/oauth/client/{client_id}/scope"),
        json=["rule:read"],
        headers=oauth.root_headers(),
    )
    assert response.status_code == 200
    assert_error(oauth.http.get(POLICY, headers=headers), 403, "insufficient_scope")
    assert oauth.http.get(RULE, headers=headers).status_code == 200


def test_removing_a_scope_through_client_update_takes_effect_too(oauth: OAuth) -> None:
    client_id, _, headers = oauth.client_with(["policy:read", "rule:read"])
    response = oauth.http.put(
        oauth.url(f"/oauth/client/{client_id}"),
        json={"scopes": ["policy:read"]},
        headers=oauth.root_headers(),
    )
    assert response.status_code == 200
    assert oauth.http.get(POLICY, headers=headers).status_code == 200
    assert_error(oauth.http.get(RULE, headers=headers), 403, "insufficient_scope")


def test_re_adding_a_scope_does_not_widen_a_token_narrowed_at_issuance(
    oauth: OAuth,
) -> None:
    created = oauth.create_client(["policy:read", "rule:read"])
    client_id = created["client_id"]
    narrow = bearer(oauth.token(client_id, created["client_secret"], scope="rule:read"))
    scope_url = oauth.url(f"/oauth/client/{client_id}/scope")
    root = oauth.root_headers()
    assert (
        oauth.http.put(scope_url, json=["rule:read"], headers=root).status_code == 200
    )
    both = ["policy:read", "rule:read"]
    assert oauth.http.put(scope_url, json=both, headers=root).status_code == 200
    assert_error(oauth.http.get(POLICY, headers=narrow), 403, "insufficient_scope")
    assert oauth.http.get(RULE, headers=narrow).status_code == 200


def test_re_adding_a_scope_restores_it_to_a_token_that_carried_it(oauth: OAuth) -> None:
    # Effective scopes are the token's intersected with the client's now.
    client_id, _, headers = oauth.client_with(["policy:read", "rule:read"])
    scope_url = oauth.url(f"/oauth/client/{client_id}/scope")
    root = oauth.root_headers()
    assert (
        oauth.http.put(scope_url, json=["rule:read"], headers=root).status_code == 200
    )
    assert oauth.http.get(POLICY, headers=headers).status_code == 403
    both = ["policy:read", "rule:read"]
    assert oauth.http.put(scope_url, json=both, headers=root).status_code == 200
    assert oauth.http.get(POLICY, headers=headers).status_code == 200


# -- the decorator on routes of our own ---------------------------------------


@pytest.fixture
def custom(app: Flask) -> OAuth:
    """A reference-host app with extra routes, added before its first request."""

    def whoami() -> Any:
        return jsonify(
            client_id=current_client.client_id,
            scopes=sorted(current_client.scopes),
            is_root=current_client.is_root,
        )

    app.add_url_rule(
        "/both", "both", require_scopes("policy:read", "rule:read")(whoami)
    )
    app.add_url_rule("/any", "any", require_scopes()(whoami))
    app.add_url_rule("/undeclared", "undeclared", require_scopes("report:read")(whoami))
    return OAuth(app, app.test_client())


def test_require_scopes_needs_every_listed_scope(custom: OAuth) -> None:
    for held in (["policy:read"], ["rule:read"], []):
        _, _, headers = custom.client_with(held)
        response = custom.http.get("/both", headers=headers)
        assert_error(response, 403, "insufficient_scope")
        assert 'scope="policy:read rule:read"' in response.headers["WWW-Authenticate"]
    _, _, headers = custom.client_with(["policy:read", "rule:read"])
    assert custom.http.get("/both", headers=headers).status_code == 200


def test_require_scopes_without_scopes_asks_for_a_valid_token_only(
    custom: OAuth,
) -> None:
    _, _, headers = custom.client_with([])
    assert custom.http.get("/any", headers=headers).status_code == 200
    assert custom.http.get("/any").status_code == 401
    assert_error(custom.http.get("/any", headers=bearer("x.y.z")), 401, "invalid_token")


def test_current_client_gives_the_callers_id_and_effective_scopes(
    custom: OAuth,
) -> None:
    created = custom.create_client(["policy:read", "rule:read"])
    client_id, secret = created["client_id"], created["client_secret"]
    full = bearer(custom.token(client_id, secret))
    narrow = bearer(custom.token(client_id, secret, scope="rule:read"))

    body = custom.http.get("/both", headers=full).get_json()
    assert body == {
        "client_id": client_id,
        "scopes": ["policy:read", "rule:read"],
        "is_root": False,
    }
    assert custom.http.get("/any", headers=narrow).get_json()["scopes"] == ["rule:read"]

    custom.http.put(
        custom.url(f"/oauth/client/{client_id}/scope"),
        json=["policy:read"],
        headers=custom.root_headers(),
    )
    assert custom.http.get("/any", headers=full).get_json()["scopes"] == ["policy:read"]
    assert custom.http.get("/any", headers=narrow).get_json()["scopes"] == []


def test_current_client_of_the_root_client_says_so(custom: OAuth) -> None:
    body = custom.http.get("/any", headers=custom.root_headers()).get_json()
    assert body["client_id"] == ROOT_ID
    assert body["is_root"] is True
    assert {"policy:read", "rule:read", "client:create"} <= set(body["scopes"])


def test_current_client_is_none_outside_a_protected_request(app: Flask) -> None:
    with app.test_request_context("/api/v1/health"):
        assert current_client._get_current_object() is None  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "name",
    ["", "policy read", 'policy"read', "a::b", ":a", "a:", "x" * 101, "rule:read\n"],
)
def test_require_scopes_refuses_a_malformed_scope_name_at_decoration(name: str) -> None:
    with pytest.raises(ValueError, match="Malformed scope names"):
        require_scopes("policy:read", name)


def test_require_scopes_with_an_undeclared_scope_fails_loudly_on_request(
    custom: OAuth,
) -> None:
    assert custom.app.testing  # exceptions propagate to the test client
    for headers in (custom.root_headers(), {}):
        with pytest.raises(RuntimeError) as raised:
            custom.http.get("/undeclared", headers=headers)
        message = str(raised.value)
        assert "report:read" in message
        assert "not registered" in message
        assert "Declare them" in message


# -- Authorization header variants ---------------------------------------------


@pytest.mark.parametrize(
    "authorization",
    [
        "Bearer",
        "Bearer ",
        "Basic xxx",
        "Token abc",
        "Bearer x y",
        "Bearer " + "a" * 20_000,
        "Bearer " + "a.b.c" * 4_000,
    ],
    ids=[
        "bearer-alone",
        "bearer-space",
        "basic",
        "other-scheme",
        "two-words",
        "20000-chars",
        "20000-chars-dotted",
    ],
)
def test_odd_authorization_header_is_401_json(oauth: OAuth, authorization: str) -> None:
    response = oauth.http.get(POLICY, headers={"Authorization": authorization})
    assert response.status_code == 401
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert body["error"] and body["error_description"]
    assert response.headers["WWW-Authenticate"].lower().startswith("bearer ")


def test_over_long_bearer_token_is_invalid_token(oauth: OAuth) -> None:
    response = oauth.http.get(POLICY, headers=bearer("a" * 20_000))
    assert_error(response, 401, "invalid_token")


def test_client_credentials_are_not_a_bearer_token(oauth: OAuth) -> None:
    response = oauth.http.get(POLICY, headers=basic(ROOT_ID, ROOT_SECRET))
    assert response.status_code == 401
    assert response.mimetype == "application/json"


@pytest.mark.parametrize("scheme", ["bearer", "BEARER", "bEaReR"])
def test_bearer_scheme_is_case_insensitive(
    oauth: OAuth, policy_token: str, scheme: str
) -> None:
    # RFC 7235 §2.1: the auth-scheme is case-insensitive; Authlib follows it.
    response = oauth.http.get(
        POLICY, headers={"Authorization": f"{scheme} {policy_token}"}
    )
    assert response.status_code == 200
    assert response.get_json()["client_id"] == _segment(policy_token, 1)["client_id"]


def test_token_in_the_query_string_is_not_accepted(
    oauth: OAuth, policy_token: str
) -> None:
    # Tokens in URLs end up in access logs: only the header is read.
    response = oauth.http.get(POLICY, query_string={"access_token": policy_token})
    assert response.status_code == 401
    assert response.mimetype == "application/json"
