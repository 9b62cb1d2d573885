"""Server nonces in DPoP proofs (RFC 9449 §8, §9), end to end.

With ``FIDES_OAUTH_DPOP_REQUIRE_NONCE`` every proof must carry a nonce this
app issued; nonces are stateless (a time step and an HMAC under a key
derived from the key-encryption key), so every worker with the same
configuration accepts them.
"""

from __future__ import annotations

from typing import Any

import pytest
from joserfc.jwk import ECKey

from tests.conftest import KEY_ENCRYPTION_KEY
from tests.conftest import FakeClock
from tests.conftest import OAuth
from tests.conftest import Prover
from tests.conftest import assert_error
from tests.conftest import basic
from tests.conftest import dpop

HOST = "http://localhost"
TOKEN = "/api/v1/oauth/token"
POLICY = "/api/v1/policy"
STEP = 300


@pytest.fixture
def nonce_app(make_app: Any, clock: FakeClock) -> Any:
    return make_app(clock=clock, FIDES_OAUTH_DPOP_REQUIRE_NONCE=True)


def _token(oauth: OAuth, created: dict[str, Any], proof: str) -> Any:
    headers = list(basic(created["client_id"], created["client_secret"]).items())
    return oauth.http.post(TOKEN, headers=[*headers, ("DPoP", proof)])


def _nonce_from(response: Any) -> str:
    nonces = response.headers.getlist("DPoP-Nonce")
    # RFC 9449 §8: "there MUST NOT be more than one DPoP-Nonce header."
    assert len(nonces) == 1, response.headers
    return str(nonces[0])


def test_the_nonce_dance_at_both_ends(nonce_app: Any, clock: FakeClock) -> None:
    """RFC 9449 §8: "the authorization server responds to requests that do
    not include a nonce with an HTTP 400 (Bad Request) error response ...
    using use_dpop_nonce as the error code value. The authorization server
    includes a DPoP-Nonce HTTP header in the response". §9: "Resource
    servers use an HTTP 401 (Unauthorized) error code with an accompanying
    WWW-Authenticate: DPoP value and DPoP-Nonce value"."""
    oauth = OAuth(nonce_app, nonce_app.test_client())
    prover = Prover()
    now = int(clock())
    created = oauth.create_client(["policy:read"])
    first = _token(oauth, created, prover.proof("POST", HOST + TOKEN, iat=now))
    assert_error(first, 400, "use_dpop_nonce")
    nonce = _nonce_from(first)
    granted = _token(
        oauth, created, prover.proof("POST", HOST + TOKEN, iat=now, nonce=nonce)
    )
    assert granted.status_code == 200, granted.get_json()
    assert granted.get_json()["token_type"] == "DPoP"
    # §8.2: the next nonce may come "in the HTTP 200 (OK) response".
    assert _nonce_from(granted)
    token = granted.get_json()["access_token"]

    refused = oauth.http.get(
        POLICY,
        headers=dpop(token, prover.proof("GET", HOST + POLICY, token=token, iat=now)),
    )
    assert_error(refused, 401, "use_dpop_nonce")
    assert refused.headers["WWW-Authenticate"].startswith('DPoP error="use_dpop_nonce"')
    nonce = _nonce_from(refused)
    proof = prover.proof("GET", HOST + POLICY, token=token, iat=now, nonce=nonce)
    allowed = oauth.http.get(POLICY, headers=dpop(token, proof))
    assert allowed.status_code == 200
    assert _nonce_from(allowed)
    assert allowed.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize(
    "nonce",
    ["made-up", "A" * 32, "", 12345, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"],
)
def test_a_nonce_the_server_did_not_issue_is_refused(
    nonce_app: Any, clock: FakeClock, nonce: Any
) -> None:
    """RFC 9449 §8: "If the nonce claim in the DPoP proof does not exactly
    match a nonce recently supplied by the authorization server to the
    client, the authorization server MUST reject the request." """
    oauth = OAuth(nonce_app, nonce_app.test_client())
    prover = Prover()
    created = oauth.create_client(["policy:read"])
    proof = prover.proof("POST", HOST + TOKEN, iat=int(clock()), nonce=nonce)
    response = _token(oauth, created, proof)
    assert_error(response, 400, "use_dpop_nonce")
    assert _nonce_from(response) != nonce


def test_a_nonce_lives_for_its_step_and_the_next(
    nonce_app: Any, clock: FakeClock
) -> None:
    oauth = OAuth(nonce_app, nonce_app.test_client())
    prover = Prover()
    created = oauth.create_client(["policy:read"])
    nonce = _nonce_from(
        _token(oauth, created, prover.proof("POST", HOST + TOKEN, iat=int(clock())))
    )
    clock.advance(STEP)
    proof = prover.proof("POST", HOST + TOKEN, iat=int(clock()), nonce=nonce)
    assert _token(oauth, created, proof).status_code == 200
    clock.advance(STEP)
    proof = prover.proof("POST", HOST + TOKEN, iat=int(clock()), nonce=nonce)
    assert_error(_token(oauth, created, proof), 400, "use_dpop_nonce")


def test_nonces_are_shared_by_every_instance_with_the_same_keys(
    make_app: Any, clock: FakeClock
) -> None:
    first = make_app(clock=clock, FIDES_OAUTH_DPOP_REQUIRE_NONCE=True)
    # A KEK rotation in progress: [new, old] accepts what [old] issued.
    second = make_app(
        clock=clock,
        FIDES_OAUTH_DPOP_REQUIRE_NONCE=True,
        FIDES_OAUTH_KEY_ENCRYPTION_KEY=[
            "another-key-encryption-key-0123456789",
            KEY_ENCRYPTION_KEY,
        ],
    )
    # Another deployment: its own signing key, no KEK; nonces keyed off it.
    pem = ECKey.generate_key("P-256", private=True).as_pem(private=True).decode()
    stranger = make_app(
        clock=clock,
        FIDES_OAUTH_DPOP_REQUIRE_NONCE=True,
        FIDES_OAUTH_KEY_ENCRYPTION_KEY=None,
        FIDES_OAUTH_SIGNING_KEY=pem,
    )
    one = OAuth(first, first.test_client())
    prover = Prover()
    now = int(clock())
    created = one.create_client(["policy:read"])
    nonce = _nonce_from(
        _token(one, created, prover.proof("POST", HOST + TOKEN, iat=now))
    )
    for app, works in ((second, True), (stranger, False)):
        other = OAuth(app, app.test_client())
        # The same client, registered the same way on the other instance.
        proof = prover.proof("POST", HOST + TOKEN, iat=now, nonce=nonce)
        created_there = other.create_client(["policy:read"])
        response = _token(other, created_there, proof)
        assert (response.status_code == 200) is works, response.get_json()


def test_without_the_setting_no_nonce_is_needed_or_sent(oauth: OAuth) -> None:
    prover = Prover()
    created = oauth.create_client(["policy:read"])
    response = _token(oauth, created, prover.proof("POST", HOST + TOKEN))
    assert response.status_code == 200
    assert "DPoP-Nonce" not in response.headers
