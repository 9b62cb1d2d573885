"""private_key_jwt (RFC 7523 §3, RFC 10070; CONTRACT §7).

Assertions are signed with PyJWT, a library independent of the joserfc
that verifies them. Every failure is the same 401 invalid_client as a
wrong secret.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import jwt as pyjwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.conftest import OAuth
from tests.conftest import assert_error

TOKEN = "/api/v1/oauth/token"
ISSUER = "http://localhost/api/v1"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ALGORITHMS = {
    "ES256": (
        lambda: ec.generate_private_key(ec.SECP256R1()),
        pyjwt.algorithms.ECAlgorithm,
    ),
    "RS256": (
        lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048),
        pyjwt.algorithms.RSAAlgorithm,
    ),
    "PS256": (
        lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048),
        pyjwt.algorithms.RSAPSSAlgorithm,
    ),
    "EdDSA": (ed25519.Ed25519PrivateKey.generate, pyjwt.algorithms.OKPAlgorithm),
}


class Signer:
    """A client's private key, its public JWK, and assertions it signs."""

    def __init__(self, alg: str = "ES256", kid: str = "key-1") -> None:
        make, algorithm = ALGORITHMS[alg]
        self.alg, self.kid = alg, kid
        self.private = make()
        self.jwk = json.loads(algorithm.to_jwk(self.private.public_key())) | {
            "kid": kid
        }

    def assertion(
        self, client_id: str, headers: dict[str, Any] | None = None, **claims: Any
    ) -> str:
        now = int(time.time())
        body = {
            "iss": client_id,
            "sub": client_id,
            "aud": ISSUER,
            "exp": now + 120,
            "iat": now,
            "jti": uuid.uuid4().hex,
        } | claims
        body = {
            k: (v(now) if callable(v) else v) for k, v in body.items() if v is not None
        }
        header = {"kid": self.kid} | (headers or {})
        return pyjwt.encode(body, self.private, algorithm=self.alg, headers=header)


def _register(oauth: OAuth, signer: Signer, **fields: Any) -> str:
    created = oauth.create_client(
        ["policy:read"],
        token_endpoint_auth_method="private_key_jwt",
        jwks={"keys": [signer.jwk]},
        **fields,
    )
    assert "client_secret" not in created
    assert created["token_endpoint_auth_method"] == "private_key_jwt"
    return str(created["client_id"])


def _token(oauth: OAuth, assertion: str, **form: str) -> Any:
    data = {"client_assertion_type": ASSERTION_TYPE, "client_assertion": assertion}
    return oauth.http.post(TOKEN, data=data | form)


def _refused(response: Any) -> None:
    body = assert_error(response, 401, "invalid_client")
    assert "assertion" not in json.dumps(body).lower().replace("client_assertion", "")


@pytest.mark.parametrize("alg", sorted(ALGORITHMS))
def test_each_algorithm_authenticates(oauth: OAuth, alg: str) -> None:
    signer = Signer(alg)
    client_id = _register(oauth, signer)
    response = _token(oauth, signer.assertion(client_id))
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["scope"] == "policy:read"
    # The token works on a protected route.
    token = response.get_json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    assert oauth.http.get("/api/v1/policy", headers=headers).status_code == 200


@pytest.mark.parametrize(
    ("claims", "headers"),
    [
        ({"iss": "someone-else"}, {}),
        ({"sub": "someone-else"}, {}),
        ({"aud": ISSUER + "/oauth/token"}, {}),  # strict: the issuer alone
        ({"aud": [ISSUER]}, {}),  # strict: a string, not an array
        ({"aud": "https://elsewhere.example"}, {}),
        ({"exp": None}, {}),
        ({"exp": lambda now: now - 61}, {}),
        # Beyond 300 s plus the 60 s leeway, by more than the second that
        # `now` (whole seconds) and the server's clock may differ by.
        ({"exp": lambda now: now + 300 + 60 + 5}, {}),
        ({"jti": None}, {}),
        ({"nbf": lambda now: now + 600}, {}),
        ({}, {"typ": "at+jwt"}),
        ({}, {"kid": "not-a-key-of-the-client"}),
    ],
    ids=[
        "iss",
        "sub",
        "aud-token-endpoint",
        "aud-array",
        "aud-other",
        "exp-missing",
        "exp-past",
        "exp-too-far",
        "jti-missing",
        "nbf-future",
        "typ",
        "kid-unknown",
    ],
)
def test_every_rule_is_enforced(
    oauth: OAuth, claims: dict[str, Any], headers: dict[str, Any]
) -> None:
    signer = Signer()
    client_id = _register(oauth, signer)
    _refused(_token(oauth, signer.assertion(client_id, headers, **claims)))


@pytest.mark.parametrize("typ", [None, "JWT", "client-authentication+jwt"])
def test_accepted_types(oauth: OAuth, typ: str | None) -> None:
    signer = Signer()
    client_id = _register(oauth, signer)
    headers = {"typ": typ} if typ else {}
    if typ is None:
        # PyJWT adds typ: JWT unless told not to.
        headers = {"typ": None}
    response = _token(oauth, signer.assertion(client_id, headers))
    assert response.status_code == 200, response.get_json()


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_non_finite_times_are_refused(oauth: OAuth, value: float) -> None:
    """JSON parsers read NaN and Infinity; such an exp or nbf is no time:
    401 like any bad assertion, never a 5xx (a NaN once reached the replay
    store's NOT NULL column)."""
    signer = Signer()
    client_id = _register(oauth, signer)
    _refused(_token(oauth, signer.assertion(client_id, exp=value)))
    _refused(_token(oauth, signer.assertion(client_id, nbf=value)))


def test_a_deeply_nested_assertion_is_refused(oauth: OAuth) -> None:
    """JSON nested past the parser's recursion limit is malformed input:
    401, not a 500."""
    import base64

    deep = base64.urlsafe_b64encode(b"[" * 2000 + b"]" * 2000).rstrip(b"=")
    header = base64.urlsafe_b64encode(b'{"alg":"ES256"}').rstrip(b"=")
    for assertion in (deep + b".e30.AA", header + b"." + deep + b".AA"):
        _refused(_token(oauth, assertion.decode(), grant_type="client_credentials"))


def test_exp_bounds_have_sixty_seconds_of_leeway(oauth: OAuth) -> None:
    signer = Signer()
    client_id = _register(oauth, signer)
    now = int(time.time())
    for exp in (now + 355, now - 30):
        response = _token(oauth, signer.assertion(client_id, exp=exp))
        assert response.status_code == 200, (exp - now, response.get_json())


def test_another_key_or_algorithm_is_refused(oauth: OAuth) -> None:
    signer = Signer("ES256")
    client_id = _register(oauth, signer)
    impostor = Signer("ES256")  # same kid, another key
    _refused(_token(oauth, impostor.assertion(client_id)))
    rsa_signer = Signer("RS256")  # an algorithm the client's EC key does not allow
    _refused(_token(oauth, rsa_signer.assertion(client_id)))
    hmac = pyjwt.encode(
        {
            "iss": client_id,
            "sub": client_id,
            "aud": ISSUER,
            "exp": int(time.time()) + 60,
            "jti": "x",
        },
        "a-shared-secret-of-more-than-thirty-two-bytes",
        algorithm="HS256",
        headers={"kid": "key-1"},
    )
    _refused(_token(oauth, hmac))


def test_a_jti_is_single_use(oauth: OAuth) -> None:
    signer = Signer()
    client_id = _register(oauth, signer)
    assertion = signer.assertion(client_id)
    assert _token(oauth, assertion).status_code == 200
    _refused(_token(oauth, assertion))
    # Another client may use the same jti: replay is per client.
    other_signer = Signer()
    other = _register(oauth, other_signer)
    jti = pyjwt.decode(assertion, options={"verify_signature": False})["jti"]
    response = _token(oauth, other_signer.assertion(other, jti=jti))
    assert response.status_code == 200


def test_form_client_id_must_match(oauth: OAuth) -> None:
    signer = Signer()
    client_id = _register(oauth, signer)
    _refused(_token(oauth, signer.assertion(client_id), client_id="f" * 32))
    response = _token(oauth, signer.assertion(client_id), client_id=client_id)
    assert response.status_code == 200


def test_methods_fail_closed(oauth: OAuth) -> None:
    signer = Signer()
    key_client = _register(oauth, signer)
    # A private_key_jwt client has no secret: any secret fails.
    response = oauth.http.post(
        TOKEN, data={"client_id": key_client, "client_secret": "anything"}
    )
    _refused(response)
    # A secret client cannot use an assertion, even one its id is in.
    secret_client = oauth.create_client(["policy:read"])
    _refused(_token(oauth, signer.assertion(secret_client["client_id"])))


def test_failures_count_against_the_limits(make_app: Any) -> None:
    app = make_app(FIDES_OAUTH_AUTH_FAILURE_LIMIT=2)
    oauth = OAuth(app, app.test_client())
    signer = Signer()
    client_id = _register(oauth, signer)
    bad = Signer()
    for _ in range(2):
        _refused(_token(oauth, bad.assertion(client_id)))
    limited = _token(oauth, signer.assertion(client_id))
    assert_error(limited, 429, "too_many_requests")


def test_the_legacy_switch_accepts_the_token_endpoint(make_app: Any) -> None:
    app = make_app(FIDES_OAUTH_CLIENT_ASSERTION_AUDIENCE="legacy")
    oauth = OAuth(app, app.test_client())
    signer = Signer()
    client_id = _register(oauth, signer)
    for aud in (ISSUER + "/oauth/token", [ISSUER + "/oauth/token"], [ISSUER], ISSUER):
        response = _token(oauth, signer.assertion(client_id, aud=aud))
        assert response.status_code == 200, aud
    _refused(_token(oauth, signer.assertion(client_id, aud=[ISSUER, "x"])))


def test_replay_across_two_instances_on_one_store(
    make_app: Any, any_store: str | None
) -> None:
    store = {"FIDES_OAUTH_STORAGE_URI": any_store} if any_store else {}
    first, second = make_app(**store), make_app(**store)  # two workers
    one, two = OAuth(first, first.test_client()), OAuth(second, second.test_client())
    signer = Signer()
    client_id = _register(one, signer)
    assertion = signer.assertion(client_id)
    assert _token(one, assertion).status_code == 200
    _refused(_token(two, assertion))


# -- registration ----------------------------------------------------------


def _create(oauth: OAuth, **fields: Any) -> Any:
    return oauth.http.post(
        "/api/v1/oauth/client",
        json={"scopes": ["policy:read"], **fields},
        headers=oauth.root_headers(),
    )


@pytest.mark.parametrize(
    "fields",
    [
        {"token_endpoint_auth_method": "private_key_jwt"},  # no keys
        {"token_endpoint_auth_method": "private_key_jwt", "jwks": {"keys": []}},
        {"token_endpoint_auth_method": "client_secret_jwt"},
        {"jwks": "KEYS"},
        {
            "token_endpoint_auth_method": "private_key_jwt",
            "jwks_uri": "http://example.com/jwks",
        },
        {"token_endpoint_auth_method": "private_key_jwt", "jwks_uri": "https://[::1"},
        {
            "token_endpoint_auth_method": "private_key_jwt",
            "jwks_uri": "https://a.example:99999/jwks",
        },
        {"access_token_lifetime": 59},
        {"access_token_lifetime": 86401},
        {"access_token_lifetime": True},
        {"dpop_bound_access_tokens": "yes"},
    ],
)
def test_bad_metadata_is_422_and_writes_nothing(oauth: OAuth, fields: Any) -> None:
    before = oauth.snapshot()
    assert_error(_create(oauth, **fields), 422)
    assert oauth.snapshot() == before


def test_bad_key_material_is_422(oauth: OAuth) -> None:
    signer = Signer("RS256")
    private = json.loads(pyjwt.algorithms.RSAAlgorithm.to_jwk(signer.private)) | {
        "kid": "k"
    }
    no_kid = {k: v for k, v in signer.jwk.items() if k != "kid"}
    weak = json.loads(
        pyjwt.algorithms.RSAAlgorithm.to_jwk(
            # A weak key, refused on purpose.
            rsa.generate_private_key(public_exponent=65537, key_size=1024).public_key()  # noqa: S505
        )
    ) | {"kid": "weak"}
    secret_key = {"kty": "oct", "k": "c2VjcmV0", "kid": "oct"}
    before = oauth.snapshot()
    for key in (private, no_kid, weak, secret_key):
        response = _create(
            oauth, token_endpoint_auth_method="private_key_jwt", jwks={"keys": [key]}
        )
        assert_error(response, 422)
    # Keys on a secret client.
    assert_error(_create(oauth, jwks={"keys": [signer.jwk]}), 422)
    assert oauth.snapshot() == before


def test_a_key_client_has_no_secret_to_rotate(oauth: OAuth) -> None:
    client_id = _register(oauth, Signer())
    before = oauth.snapshot()
    response = oauth.http.post(
        f"/api/v1/oauth/client/{client_id}/secret", headers=oauth.root_headers()
    )
    assert_error(response, 400, "invalid_request")
    assert oauth.snapshot() == before


def test_token_lifetime_follows_the_client(oauth: OAuth) -> None:
    signer = Signer()
    client_id = _register(oauth, signer, access_token_lifetime=120)
    body = _token(oauth, signer.assertion(client_id)).get_json()
    assert body["expires_in"] == 120
    claims = pyjwt.decode(body["access_token"], options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] == 120
    # A secret client too, and a change through PUT.
    created = oauth.create_client(["rule:read"], access_token_lifetime=600)
    token = oauth.http.post(
        TOKEN,
        data={
            "client_id": created["client_id"],
            "client_secret": created["client_secret"],
        },
    ).get_json()
    assert token["expires_in"] == 600
    changed = oauth.http.put(
        f"/api/v1/oauth/client/{created['client_id']}",
        json={"access_token_lifetime": None},
        headers=oauth.root_headers(),
    )
    assert changed.get_json()["access_token_lifetime"] is None


def test_a_key_client_cannot_become_a_secret_client(oauth: OAuth) -> None:
    client_id = _register(oauth, Signer())
    before = oauth.snapshot()
    response = oauth.http.put(
        f"/api/v1/oauth/client/{client_id}",
        json={"token_endpoint_auth_method": "client_secret_basic"},
        headers=oauth.root_headers(),
    )
    assert_error(response, 422)
    assert oauth.snapshot() == before


def test_metadata_advertises_the_method(oauth: OAuth) -> None:
    body = oauth.http.get("/.well-known/oauth-authorization-server/api/v1").get_json()
    assert "private_key_jwt" in body["token_endpoint_auth_methods_supported"]
    assert set(body["token_endpoint_auth_signing_alg_values_supported"]) == {
        "ES256",
        "ES384",
        "RS256",
        "PS256",
        "EdDSA",
    }


def test_authlib_private_key_jwt_client_over_a_socket(
    live_server: str, oauth: OAuth
) -> None:
    from authlib.integrations.requests_client import OAuth2Session
    from authlib.oauth2.rfc7523 import PrivateKeyJWT
    from authlib.oauth2.rfc7523 import private_key_jwt_sign
    from joserfc.jwk import ECKey

    class FiveMinutePrivateKeyJWT(PrivateKeyJWT):  # type: ignore[misc]
        """Authlib signs assertions valid for an hour; §7 accepts five
        minutes at most, so the docs' example shortens them."""

        def sign(self, auth: Any, token_endpoint: str) -> Any:
            return private_key_jwt_sign(
                auth.client_secret,
                client_id=auth.client_id,
                token_endpoint=token_endpoint,
                alg=self.alg,
                expires_in=300,
            )

    key = ECKey.generate_key("P-256", private=True, auto_kid=True)
    public = key.as_dict(private=False) | {"kid": key.kid}
    created = oauth.create_client(
        ["policy:read"],
        token_endpoint_auth_method="private_key_jwt",
        jwks={"keys": [public]},
    )
    issuer = live_server + "/api/v1"
    session = OAuth2Session(
        created["client_id"],
        key,
        token_endpoint_auth_method=FiveMinutePrivateKeyJWT(issuer, alg="ES256"),
    )
    token = session.fetch_token(
        issuer + "/oauth/token", grant_type="client_credentials"
    )
    assert token["token_type"] == "Bearer"
    assert session.get(issuer + "/policy").status_code == 200
    session.close()


def test_an_assertion_replayed_across_worker_processes_succeeds_once(
    make_app: Any, tmp_path: Any, any_store: str | None
) -> None:
    """Three gunicorn workers, one assertion sent in bursts of twelve: the
    jti is claimed once across processes (SQL or Redis)."""

    import requests

    from tests.servers import bursts_across_processes
    from tests.servers import free_port
    from tests.servers import gunicorn
    from tests.servers import worker_env

    store = {"FIDES_OAUTH_STORAGE_URI": any_store} if any_store else {}
    app = make_app(**store)
    oauth = OAuth(app, app.test_client())
    signer = Signer()
    client_id = _register(oauth, signer)
    port = free_port()
    issuer = f"http://127.0.0.1:{port}/api/v1"
    env = worker_env(app.config["SQLALCHEMY_DATABASE_URI"], issuer, any_store)
    assertion = signer.assertion(client_id, aud=issuer)
    with gunicorn(
        "tests.wsgi_workers:app", tmp_path / "g.log", workers=3, env=env, port=port
    ) as server:
        answers = bursts_across_processes(
            lambda: requests.post(
                server.api + "/oauth/token",
                data={
                    "client_assertion_type": ASSERTION_TYPE,
                    "client_assertion": assertion,
                },
                timeout=30,
            )
        )
    statuses = sorted(status for status, _ in answers)
    assert statuses == [200] + [401] * (len(answers) - 1), answers
    assert len({pid for _, pid in answers}) > 1  # more than one process answered
