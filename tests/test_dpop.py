"""DPoP sender-constrained tokens (RFC 9449; CONTRACT §8): the token
endpoint and protected routes.

Proofs are made with PyJWT (:class:`tests.conftest.Prover`), independently
of the joserfc that checks them; the key thumbprint is computed in the test
from RFC 7638's rule. Each refusal is checked at both ends.
"""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import pytest

from tests.conftest import OAuth
from tests.conftest import Prover
from tests.conftest import assert_error
from tests.conftest import basic
from tests.conftest import bearer
from tests.conftest import dpop

HOST = "http://localhost"
TOKEN = "/api/v1/oauth/token"
POLICY = "/api/v1/policy"
ALGS = "ES256 ES384 RS256 PS256 EdDSA"


def claims_of(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(payload + "==")))


def token_request(
    oauth: OAuth, created: dict[str, Any], proofs: list[str] | None = None
) -> Any:
    headers: Any = basic(created["client_id"], created["client_secret"])
    headers = list(headers.items()) + [("DPoP", proof) for proof in proofs or []]
    return oauth.http.post(
        TOKEN, data={"grant_type": "client_credentials"}, headers=headers
    )


def bound_token(oauth: OAuth, prover: Prover, scopes: list[str] | None = None) -> str:
    created = oauth.create_client(scopes or ["policy:read"])
    response = token_request(oauth, created, [prover.proof("POST", HOST + TOKEN)])
    assert response.status_code == 200, response.get_json()
    return str(response.get_json()["access_token"])


def call(oauth: OAuth, token: str, proof: str, path: str = POLICY) -> Any:
    return oauth.http.get(path, headers=dpop(token, proof))


def assert_dpop_refusal(response: Any, error: str, status: int = 401) -> str:
    """A protected route's refusal under the DPoP scheme: the JSON body of
    §5 and the RFC 9449 §7.1 challenge, naming only asymmetric algorithms."""
    assert_error(response, status, error)
    challenge = response.headers["WWW-Authenticate"]
    assert challenge.startswith(f'DPoP error="{error}"'), challenge
    assert challenge.endswith(f'algs="{ALGS}"'), challenge
    return str(challenge)


# -- the token endpoint ----------------------------------------------------


@pytest.mark.parametrize("alg", ["ES256", "ES384", "RS256", "PS256", "EdDSA"])
def test_a_proof_gets_a_token_bound_to_its_key(oauth: OAuth, alg: str) -> None:
    """RFC 9449 §5: "A token_type of DPoP MUST be included in the access
    token response"; §6.1: "The value of the jkt member MUST be the base64url
    encoding ... of the JWK SHA-256 Thumbprint ... of the DPoP public key"."""
    prover = Prover(alg)
    created = oauth.create_client(["policy:read"])
    response = token_request(oauth, created, [prover.proof("POST", HOST + TOKEN)])
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["token_type"] == "DPoP"
    assert claims_of(body["access_token"])["cnf"] == {"jkt": prover.jkt}
    proof = prover.proof("GET", HOST + POLICY, token=body["access_token"])
    assert call(oauth, body["access_token"], proof).status_code == 200


def test_without_a_proof_the_token_is_a_bearer_token(oauth: OAuth) -> None:
    created = oauth.create_client(["policy:read"])
    body = token_request(oauth, created).get_json()
    assert body["token_type"] == "Bearer"
    assert "cnf" not in claims_of(body["access_token"])


def test_a_dpop_bound_client_must_send_a_proof(oauth: OAuth) -> None:
    """RFC 9449 §5.2: "If the value is true, the authorization server MUST
    reject token requests from the client that do not contain the DPoP
    header." """
    created = oauth.create_client(["policy:read"], dpop_bound_access_tokens=True)
    assert_error(token_request(oauth, created), 400, "invalid_dpop_proof")
    prover = Prover()
    response = token_request(oauth, created, [prover.proof("POST", HOST + TOKEN)])
    assert response.get_json()["token_type"] == "DPoP"


def _bad_proofs(prover: Prover, url: str, token: str | None = None) -> dict[str, Any]:
    """Every way a proof breaks a rule of RFC 9449 §4.3, for ``url``."""
    now = int(time.time())
    other = Prover()
    method = "POST" if url.endswith("/token") else "GET"

    def make(**kwargs: Any) -> str:
        return prover.proof(method, url, token=token, **kwargs)

    signed_by_other = other.proof(method, url, token=token, header={"jwk": prover.jwk})
    private = dict(prover.jwk, d="AAAA")
    unsigned = (
        base64.urlsafe_b64encode(b'{"typ":"dpop+jwt","alg":"none"}').rstrip(b"=")
        + b"."
        + base64.urlsafe_b64encode(
            json.dumps({"jti": "x", "htm": method, "htu": url, "iat": now}).encode()
        ).rstrip(b"=")
        + b"."
    ).decode()
    return {
        # 4. "The typ JOSE Header Parameter has the value dpop+jwt."
        "typ JWT": make(header={"typ": "JWT"}),
        "typ at+jwt": make(header={"typ": "at+jwt"}),
        # 5. "... is not none ..."; §4.2: "It MUST NOT be none or an
        # identifier for a symmetric algorithm".
        "alg none": unsigned,
        # 6. "The JWT signature verifies with the public key contained in
        # the jwk JOSE Header Parameter."
        "signed by another key": signed_by_other,
        "no jwk": make(header={"jwk": None}),
        "jwk of another type": make(header={"jwk": {"kty": "oct", "k": "AAAA"}}),
        # 7. "The jwk JOSE Header Parameter does not contain a private key."
        "private jwk": make(header={"jwk": private}),
        # 8. "The htm claim matches the HTTP method of the current request."
        "htm": make(htm="PUT"),
        "htm lower case": make(htm=method.lower()),
        # 9. "The htu claim matches the HTTP URI value for the HTTP request"
        "htu path": make(htu=HOST + "/api/v1/oauth/other"),
        "htu host": make(htu=url.replace("localhost", "evil.example")),
        "htu scheme": make(htu=url.replace("http:", "https:")),
        "htu missing": make(drop=("htu",)),
        "htu with userinfo": make(htu=url.replace("://", "://user:pw@")),
        "htu with a newline": make(htu=url.replace("localhost", "local\nhost")),
        "htu with an encoded slash": make(htu=url.replace("/v1/", "/v1%2F")),
        # 11. "The creation time of the JWT ... is within an acceptable window"
        "iat 61 s old": make(iat=now - 61),
        "iat 61 s ahead": make(iat=now + 61),
        "iat missing": make(drop=("iat",)),
        "iat a string": make(iat=str(now)),
        "iat NaN": make(iat=float("nan")),
        "iat past any float": make(iat=10**400),
        "iat Infinity": make(iat=float("inf")),
        # 3. "All required claims per Section 4.2 are contained in the JWT."
        "jti missing": make(drop=("jti",)),
        "jti empty": make(jti=""),
        "htm missing": make(drop=("htm",)),
        # 2. "a single and well-formed JWT"
        "not a JWT": "not-a-jwt",
        "padded signature": make() + "==",
        "nested JSON header": _deep + ".e30.AA",
        "nested JSON payload": make().split(".")[0] + "." + _deep + ".AA",
        "huge": "e" * 9000,
        "two proofs joined": make() + ", " + make(),
    }


_deep = base64.urlsafe_b64encode(b"[" * 2000 + b"]" * 2000).rstrip(b"=").decode()
BAD_PROOF_NAMES = list(_bad_proofs(Prover(), HOST + TOKEN))


@pytest.mark.parametrize("name", BAD_PROOF_NAMES)
def test_the_token_endpoint_refuses_a_bad_proof(oauth: OAuth, name: str) -> None:
    """RFC 9449 §5: "If the DPoP proof is invalid, the authorization server
    issues an error response per Section 5.2 of [RFC6749] with
    invalid_dpop_proof as the value of the error parameter." """
    prover = Prover()
    created = oauth.create_client(["policy:read"])
    proof = _bad_proofs(prover, HOST + TOKEN)[name]
    assert_error(token_request(oauth, created, [proof]), 400, "invalid_dpop_proof")


def test_the_token_endpoint_refuses_two_proofs(oauth: OAuth) -> None:
    """RFC 9449 §4.3, 1: "There is not more than one DPoP HTTP request
    header field." """
    prover = Prover()
    created = oauth.create_client(["policy:read"])
    proofs = [prover.proof("POST", HOST + TOKEN), prover.proof("POST", HOST + TOKEN)]
    assert_error(token_request(oauth, created, proofs), 400, "invalid_dpop_proof")


def test_a_proof_is_remembered_past_its_last_acceptable_second(
    make_app: Any, clock: Any
) -> None:
    """Accepted while ``|now - iat| <= 60``; a replay at the very last
    second of that window is still refused."""
    app = make_app(clock=clock)
    oauth = OAuth(app, app.test_client())
    prover = Prover()
    created = oauth.create_client(["policy:read"])
    proof = prover.proof("POST", HOST + TOKEN, iat=int(clock()))
    assert token_request(oauth, created, [proof]).status_code == 200
    clock.advance(60)
    assert_error(token_request(oauth, created, [proof]), 400, "invalid_dpop_proof")


def test_rsa_proof_keys_are_bounded_before_any_work(oauth: OAuth) -> None:
    """An RSA key below 2048 bits or above 4096, or with a huge exponent, is
    refused before it is imported (a 16384-bit key costs milliseconds per
    request; a 1024-bit one made joserfc warn, a 500 where warnings are
    errors, as in this suite)."""
    from cryptography.hazmat.primitives.asymmetric import rsa

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505
    numbers = small.public_key().public_numbers()
    weak = {
        "kty": "RSA",
        "n": b64(numbers.n.to_bytes(128, "big")),
        "e": b64(numbers.e.to_bytes(3, "big")),
    }
    prover = Prover("RS256")
    created = oauth.create_client(["policy:read"])
    for jwk in (
        weak,
        dict(prover.jwk, n=b64(b"\x01" * 1025)),  # 8200 bits
        dict(prover.jwk, e=b64(b"\x01" * 384)),
    ):
        proof = prover.proof("POST", HOST + TOKEN, header={"jwk": jwk})
        response = token_request(oauth, created, [proof])
        assert_error(response, 400, "invalid_dpop_proof")


def test_an_unreachable_shared_state_is_a_503_on_a_route(make_app: Any) -> None:
    """The jti claim cannot be made: 503 with the JSON body and Retry-After,
    on a host route too, never Flask's HTML 500."""
    from examples.host_app import create_app
    from examples.host_app import db
    from fides_oauth.seams import SharedStateUnavailable

    class Unreachable:
        def claim_once(self, key: str, expires_at: float, now: float) -> bool:
            raise SharedStateUnavailable("Redis failed: Connection refused")

        def __getattr__(self, name: str) -> Any:
            raise SharedStateUnavailable("Redis failed: Connection refused")

    app = make_app()
    oauth = OAuth(app, app.test_client())
    prover = Prover()
    token = bound_token(oauth, prover)
    broken = create_app(
        {**app.config, "PROPAGATE_EXCEPTIONS": False},
        oauth_options={"shared_state": Unreachable()},
    )
    proof = prover.proof("GET", HOST + POLICY, token=token)
    try:
        response = broken.test_client().get(POLICY, headers=dpop(token, proof))
    finally:
        with broken.app_context():  # its own engine: close its connections
            db.session.remove()
            db.engine.dispose()
    assert_error(response, 503, "temporarily_unavailable")
    assert response.headers["Retry-After"] == "5"


def test_iat_may_be_sixty_seconds_either_side(oauth: OAuth) -> None:
    prover = Prover()
    created = oauth.create_client(["policy:read"])
    now = int(time.time())
    for iat in (now - 58, now + 58):
        proof = prover.proof("POST", HOST + TOKEN, iat=iat)
        assert token_request(oauth, created, [proof]).status_code == 200, iat


def test_htu_ignores_query_and_normalises(oauth: OAuth) -> None:
    """RFC 9449 §4.3: "ignoring any query and fragment parts"; "servers
    SHOULD employ syntax-based normalization ... and scheme-based
    normalization ... before comparing the htu claim." """
    prover = Prover()
    created = oauth.create_client(["policy:read"])
    for htu in (
        HOST + TOKEN + "?a=1#frag",
        "HTTP://LOCALHOST:80/api/v1/oauth/token",
        HOST + "/api/v1/oauth/%74oken",
    ):
        proof = prover.proof("POST", htu)
        assert token_request(oauth, created, [proof]).status_code == 200, htu


def test_a_proof_is_single_use_at_the_token_endpoint(oauth: OAuth) -> None:
    prover = Prover()
    created = oauth.create_client(["policy:read"])
    proof = prover.proof("POST", HOST + TOKEN)
    assert token_request(oauth, created, [proof]).status_code == 200
    assert_error(token_request(oauth, created, [proof]), 400, "invalid_dpop_proof")


def test_an_unauthenticated_request_claims_nothing(oauth: OAuth) -> None:
    """The jti is claimed once the client has authenticated: a stranger's
    requests write nothing to the shared state, and a proof sent with a
    mistyped secret still works with the right one."""
    prover = Prover()
    created = oauth.create_client(["policy:read"])
    proof = prover.proof("POST", HOST + TOKEN)
    wrong = dict(created, client_secret="wrong-" + created["client_secret"])
    assert_error(token_request(oauth, wrong, [proof]), 401, "invalid_client")
    assert token_request(oauth, created, [proof]).status_code == 200


# -- protected routes ------------------------------------------------------


def test_a_bound_token_works_with_a_fresh_proof_each_time(oauth: OAuth) -> None:
    """The token's verification is cached after the first request; the
    proof is checked on every one."""
    prover = Prover()
    token = bound_token(oauth, prover)
    for _ in range(3):
        response = call(oauth, token, prover.proof("GET", HOST + POLICY, token=token))
        assert response.status_code == 200


def test_a_replayed_proof_is_refused_even_for_a_cached_token(oauth: OAuth) -> None:
    """RFC 9449 §11.1: "servers can store the jti value of each DPoP proof
    for the time window in which the respective DPoP proof JWT would be
    accepted to prevent multiple uses of the same DPoP proof." """
    prover = Prover()
    token = bound_token(oauth, prover)
    assert (
        call(oauth, token, prover.proof("GET", HOST + POLICY, token=token)).status_code
        == 200
    )
    proof = prover.proof("GET", HOST + POLICY, token=token)
    assert call(oauth, token, proof).status_code == 200  # the token: from the cache
    assert_dpop_refusal(call(oauth, token, proof), "invalid_dpop_proof")


@pytest.mark.parametrize("name", BAD_PROOF_NAMES)
def test_a_protected_route_refuses_a_bad_proof(oauth: OAuth, name: str) -> None:
    """RFC 9449 §7.1: "invalid_dpop_proof is used to indicate that the DPoP
    proof itself was deemed invalid based on the criteria of Section 4.3." """
    prover = Prover()
    token = bound_token(oauth, prover)
    proof = _bad_proofs(prover, HOST + POLICY, token)[name]
    assert_dpop_refusal(call(oauth, token, proof), "invalid_dpop_proof")


def test_ath_must_hash_the_token_presented(oauth: OAuth) -> None:
    """RFC 9449 §4.3, 12: "ensure that the value of the ath claim equals the
    hash of that access token"."""
    prover = Prover()
    token = bound_token(oauth, prover)
    other_token = bound_token(oauth, prover)
    for proof in (
        prover.proof("GET", HOST + POLICY),  # no ath
        prover.proof("GET", HOST + POLICY, token=other_token),
        prover.proof("GET", HOST + POLICY, ath="x" * 43),
    ):
        assert_dpop_refusal(call(oauth, token, proof), "invalid_dpop_proof")


def test_a_proof_by_another_key_is_refused(oauth: OAuth) -> None:
    """RFC 9449 §6: "Resource servers supporting DPoP MUST ensure that the
    public key from the DPoP proof matches the one bound to the access
    token." """
    token = bound_token(oauth, Prover())
    thief = Prover()
    proof = thief.proof("GET", HOST + POLICY, token=token)
    assert_dpop_refusal(call(oauth, token, proof), "invalid_dpop_proof")


def test_dpop_scheme_without_a_proof_is_a_proof_failure(oauth: OAuth) -> None:
    token = bound_token(oauth, Prover())
    response = oauth.http.get(POLICY, headers={"Authorization": f"DPoP {token}"})
    assert_dpop_refusal(response, "invalid_dpop_proof")


def test_dpop_scheme_with_two_proofs_is_a_proof_failure(oauth: OAuth) -> None:
    prover = Prover()
    token = bound_token(oauth, prover)
    headers = [("Authorization", f"DPoP {token}")] + [
        ("DPoP", prover.proof("GET", HOST + POLICY, token=token)) for _ in range(2)
    ]
    assert_dpop_refusal(oauth.http.get(POLICY, headers=headers), "invalid_dpop_proof")


def test_a_bound_token_sent_as_bearer_is_refused(oauth: OAuth) -> None:
    """RFC 9449 §7.2: "such a protected resource MUST reject a DPoP-bound
    access token received as a bearer token per [RFC6750]." The error goes
    in the Bearer challenge, the scheme the client used (Figure 18)."""
    token = bound_token(oauth, Prover())
    response = oauth.http.get(POLICY, headers=bearer(token))
    assert_error(response, 401, "invalid_token")
    challenge = response.headers["WWW-Authenticate"]
    assert challenge.startswith('Bearer realm="fides_oauth", error="invalid_token"')
    assert challenge.endswith(f'DPoP algs="{ALGS}"')


def test_a_bearer_token_sent_with_the_dpop_scheme_is_refused(oauth: OAuth) -> None:
    created = oauth.create_client(["policy:read"])
    token = token_request(oauth, created).get_json()["access_token"]
    prover = Prover()
    proof = prover.proof("GET", HOST + POLICY, token=token)
    assert_dpop_refusal(call(oauth, token, proof), "invalid_token")


def test_no_credentials_get_both_challenges_without_an_error(oauth: OAuth) -> None:
    """RFC 9449 §7.2: "If no authentication information has been included
    with the request, then the challenges SHOULD NOT include an error code"
    (Figure 17: ``WWW-Authenticate: Bearer, DPoP algs="ES256 PS256"``)."""
    response = oauth.http.get(POLICY)
    assert_error(response, 401)
    assert response.headers["WWW-Authenticate"] == (
        f'Bearer realm="fides_oauth", DPoP algs="{ALGS}"'
    )


def test_an_invalid_token_with_the_dpop_scheme(oauth: OAuth) -> None:
    prover = Prover()
    proof = prover.proof("GET", HOST + POLICY, token="not.a.token")
    assert_dpop_refusal(call(oauth, "not.a.token", proof), "invalid_token")


def test_missing_scopes_under_the_dpop_scheme(oauth: OAuth) -> None:
    prover = Prover()
    token = bound_token(oauth, prover, ["rule:read"])
    proof = prover.proof("GET", HOST + POLICY, token=token)
    challenge = assert_dpop_refusal(
        call(oauth, token, proof), "insufficient_scope", 403
    )
    assert 'scope="policy:read"' in challenge


def test_the_view_sees_the_binding(make_app: Any) -> None:
    from flask import jsonify

    from fides_oauth import current_client
    from fides_oauth import require_scopes

    app = make_app()

    @app.get("/whoami")
    @require_scopes("policy:read")
    def whoami() -> Any:
        return jsonify(dict(current_client.claims))

    oauth = OAuth(app, app.test_client())
    prover = Prover()
    token = bound_token(oauth, prover)
    response = call(
        oauth, token, prover.proof("GET", HOST + "/whoami", token=token), "/whoami"
    )
    assert response.get_json()["cnf"] == {"jkt": prover.jkt}


# -- changes still act on bound tokens ---------------------------------------


def _works(oauth: OAuth, prover: Prover, token: str) -> int:
    return int(
        call(oauth, token, prover.proof("GET", HOST + POLICY, token=token)).status_code
    )


def test_scope_cuts_revocation_and_deletion_act_on_bound_tokens(oauth: OAuth) -> None:
    root = oauth.root_headers()
    prover = Prover()
    created = oauth.create_client(["policy:read", "rule:read"])
    client_id = created["client_id"]

    def fresh() -> str:
        proof = prover.proof("POST", HOST + TOKEN)
        return str(token_request(oauth, created, [proof]).get_json()["access_token"])

    token = fresh()
    assert _works(oauth, prover, token) == 200
    # A scope cut.
    oauth.http.put(
        f"/api/v1/oauth/client/{client_id}/scope", json=["rule:read"], headers=root
    )
    assert _works(oauth, prover, token) == 403
    oauth.http.put(
        f"/api/v1/oauth/client/{client_id}/scope",
        json=["policy:read", "rule:read"],
        headers=root,
    )
    assert _works(oauth, prover, token) == 200
    # RFC 7009 revocation by the client itself.
    revoked = oauth.http.post(
        "/api/v1/oauth/revoke",
        data={"token": token},
        headers=basic(client_id, created["client_secret"]),
    )
    assert revoked.status_code == 200
    assert _works(oauth, prover, token) == 401
    # Revoking every token of the client.
    token = fresh()
    assert _works(oauth, prover, token) == 200
    response = oauth.http.post(
        f"/api/v1/oauth/client/{client_id}/revoke-tokens", headers=root
    )
    assert response.status_code in (200, 204), response.get_data(as_text=True)
    assert _works(oauth, prover, token) == 401
    # Deleting the client.
    token = fresh()
    assert (
        oauth.http.delete(f"/api/v1/oauth/client/{client_id}", headers=root).status_code
        == 204
    )
    assert _works(oauth, prover, token) == 401


# -- introspection and metadata ------------------------------------------------


def test_introspection_shows_the_binding(oauth: OAuth) -> None:
    """RFC 9449 §6.2: "If the token_type member is included in the
    introspection response, it MUST contain the value DPoP", with "the same
    cnf content with jkt member structure ... as a top-level member"."""
    prover = Prover()
    token = bound_token(oauth, prover)
    created = oauth.create_client(["token:introspect"])
    body = oauth.http.post(
        "/api/v1/oauth/introspect",
        data={"token": token},
        headers=basic(created["client_id"], created["client_secret"]),
    ).get_json()
    assert body["active"] is True
    assert body["token_type"] == "DPoP"
    assert body["cnf"] == {"jkt": prover.jkt}


def test_metadata_lists_the_proof_algorithms(oauth: OAuth) -> None:
    """RFC 9449 §5.1: dpop_signing_alg_values_supported."""
    body = oauth.http.get("/.well-known/oauth-authorization-server/api/v1").get_json()
    assert body["dpop_signing_alg_values_supported"] == ALGS.split()


# -- the issuer-facing URL -----------------------------------------------------


def test_htu_is_the_configured_issuers_origin(make_app: Any) -> None:
    """Behind a TLS proxy the app sees http://internal; with FIDES_OAUTH_ISSUER
    set, proofs name the public origin, as the client sees it."""
    app = make_app(FIDES_OAUTH_ISSUER="https://auth.example.com/api/v1")
    oauth = OAuth(app, app.test_client())
    prover = Prover()
    created = oauth.create_client(["policy:read"])
    public = "https://auth.example.com" + TOKEN
    assert_error(
        token_request(oauth, created, [prover.proof("POST", HOST + TOKEN)]),
        400,
        "invalid_dpop_proof",
    )
    response = token_request(oauth, created, [prover.proof("POST", public)])
    assert response.status_code == 200
    token = response.get_json()["access_token"]
    proof = prover.proof("GET", "https://auth.example.com" + POLICY, token=token)
    assert call(oauth, token, proof).status_code == 200


def test_htu_follows_proxyfix(make_app: Any) -> None:
    from werkzeug.middleware.proxy_fix import ProxyFix

    app = make_app()
    app.wsgi_app = ProxyFix(app.wsgi_app, x_proto=1, x_host=1)  # type: ignore[method-assign]
    oauth = OAuth(app, app.test_client())
    prover = Prover()
    created = oauth.create_client(["policy:read"])
    forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "api.example.com"}
    headers = list(basic(created["client_id"], created["client_secret"]).items())
    headers += list(forwarded.items())
    proof = prover.proof("POST", "https://api.example.com" + TOKEN)
    response = oauth.http.post(TOKEN, headers=[*headers, ("DPoP", proof)])
    assert response.status_code == 200, response.get_json()


# -- hostile headers -----------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "",
        " ",
        "a.b.c",
        "é" * 10,
        "x" * 100_000,
        "eyJ0eXAiOiJkcG9wK2p3dCJ9.e30.",
        "eyJ0eXAiOiJkcG9wK2p3dCIsImFsZyI6IkVTMjU2IiwiandrIjpbXX0.e30.AAAA",
        "W10.W10.W10",
    ],
)
def test_hostile_dpop_headers_get_a_4xx(oauth: OAuth, value: str) -> None:
    prover = Prover()
    token = bound_token(oauth, prover)
    created = oauth.create_client(["policy:read"])
    headers = list(basic(created["client_id"], created["client_secret"]).items())
    at_token = oauth.http.post(TOKEN, headers=[*headers, ("DPoP", value)])
    assert 400 <= at_token.status_code < 500
    assert at_token.mimetype == "application/json"
    at_route = oauth.http.get(POLICY, headers=dpop(token, value))
    assert 400 <= at_route.status_code < 500
    assert at_route.mimetype == "application/json"
