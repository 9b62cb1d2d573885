"""In-process figures: requests through Flask's test client on an SQLite
file, interleaved with a bare route, so each is a ratio to what the host
app costs without the library's check."""

from __future__ import annotations

import os
import secrets
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import bcrypt
from authlib.integrations.flask_oauth2 import ResourceProtector
from authlib.integrations.sqla_oauth2 import OAuth2TokenMixin
from authlib.integrations.sqla_oauth2 import create_bearer_token_validator
from flask import Flask
from flask import jsonify
from flask_sqlalchemy import SQLAlchemy
from harness import TOKEN_PATH
from harness import expect
from harness import interleaved
from harness import make_host
from harness import mint
from harness import new_client
from harness import record_of
from harness import root_headers
from harness import supply
from harness import token_for
from harness import unverified_claims
from joserfc import jwt
from joserfc.jwk import ECKey
from sqlalchemy import Integer
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from fides_oauth.tokens import decode_token

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


# -- the anchor: Authlib's opaque-token validator, one token row per request --


def anchor_app(path: Path) -> tuple[Flask, str]:
    """Authlib's ready-made validator on the same harness: what a bearer
    check costs when it is one token row read per request."""
    anchor_db = SQLAlchemy()

    class Token(anchor_db.Model, OAuth2TokenMixin):  # type: ignore[name-defined,misc]
        __tablename__ = "anchor_tokens"
        id: Mapped[int] = mapped_column(Integer, primary_key=True)

    app = Flask("anchor")
    app.config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{path}"
    anchor_db.init_app(app)
    protector = ResourceProtector()
    protector.register_token_validator(
        create_bearer_token_validator(anchor_db.session, Token)()
    )

    @app.get("/anchor")
    @protector("policy:read")
    def protected() -> Any:
        return jsonify({"items": []})

    token = "opaque-" + os.urandom(16).hex()
    with app.app_context():
        anchor_db.create_all()
        anchor_db.session.add(
            Token(
                client_id="c",
                token_type="Bearer",
                access_token=token,
                scope="policy:read",
                expires_in=3600,
            )
        )
        anchor_db.session.commit()
    return app, token


# -- the bearer check and the token endpoint ---------------------------------


def bearer_and_token(tmp: Path, rounds: int) -> dict[str, float]:
    """The bare route, the anchor, the bearer check (reused token, first
    use and the parts of a first use, each alone) and the token endpoint,
    all in one interleaved loop."""
    app = make_host(tmp / "main.sqlite")
    http = app.test_client()
    root = root_headers(http)
    cid, secret = new_client(http, root)
    reused = {"Authorization": "Bearer " + token_for(http, cid, secret)}
    other_worker = make_host(tmp / "main.sqlite")
    record = record_of(app, cid)
    count = supply(rounds)
    fresh = iter(mint(other_worker, record, count))
    anchor, opaque = anchor_app(tmp / "anchor.sqlite")
    anchor_http = anchor.test_client()
    opaque_headers = {"Authorization": "Bearer " + opaque}
    form = {"client_id": cid, "client_secret": secret}
    # A private_key_jwt client: one signature check and one atomic jti claim
    # per request, no bcrypt. Assertions are signed ahead of the timing.
    client_key = ECKey.generate_key("P-256", private=True)
    key_client = http.post(
        "/api/v1/oauth/client",
        json={
            "scopes": ["policy:read"],
            "token_endpoint_auth_method": "private_key_jwt",
            "jwks": {"keys": [client_key.as_dict(private=False) | {"kid": "bench"}]},
        },
        headers=root,
    ).get_json()["client_id"]
    assertions = iter([assertion(client_key, key_client) for _ in range(count)])
    cases: dict[str, Callable[[], None]] = {
        # The bare request carries the same Authorization header (ignored),
        # so the difference is the check, not the harness parsing a header.
        "bare": expect(200, lambda: http.get("/api/v1/health", headers=reused)),
        "anchor": expect(
            200, lambda: anchor_http.get("/anchor", headers=opaque_headers)
        ),
        "reused": expect(200, lambda: http.get("/api/v1/policy", headers=reused)),
        "first_use": expect(
            200,
            lambda: http.get(
                "/api/v1/policy", headers={"Authorization": "Bearer " + next(fresh)}
            ),
        ),
        "token_warm": expect(200, lambda: http.post(TOKEN_PATH, data=form)),
        "token_assertion": expect(
            200,
            lambda: http.post(
                TOKEN_PATH,
                data={
                    "client_assertion_type": ASSERTION_TYPE,
                    "client_assertion": next(assertions),
                },
            ),
        ),
    }
    cases.update(first_use_parts(app, other_worker, cid, count))
    # The parts call the store outside a request: one app context for the
    # loop (each test-client request still pushes its own).
    with app.app_context():
        return interleaved(cases, rounds)


def first_use_parts(
    app: Flask, other_worker: Flask, client_id: str, count: int
) -> dict[str, Callable[[], None]]:
    """The three parts of a token's first use, each alone: the signature
    and claims check, the client read, the counter read — to show where the
    first-use budget goes."""
    state = app.extensions["fides_oauth"]
    core = state.core
    with app.test_request_context(base_url="http://localhost"):
        issuer = state.issuer()
    record = record_of(app, client_id)
    # Fresh tokens, never seen by this app; and the jtis of other fresh ones,
    # so the revocation probe of the client read looks up real values.
    to_decode = iter(mint(other_worker, record, count))
    jtis = iter(unverified_claims(t)["jti"] for t in mint(other_worker, record, count))

    def decode() -> None:
        decode_token(core, next(to_decode), issuer)

    def client_read() -> None:
        found = core.store.client_for_token(client_id, next(jtis))
        if found is None or found[1]:
            raise SystemExit(f"client read: unexpected {found!r}")

    def counter_read() -> None:
        if core.store.counter() is None:  # the slow path: not what is measured
            raise SystemExit("counter read: the fast reader gave no counter")

    return {
        "part_decode": decode,
        "part_client": client_read,
        "part_counter": counter_read,
    }


def assertion(key: ECKey, client_id: str) -> str:
    """A private_key_jwt client assertion, signed before the timing."""
    now = int(time.time())
    return jwt.encode(
        {"alg": "ES256", "kid": "bench"},
        {
            "iss": client_id,
            "sub": client_id,
            "aud": "http://localhost/api/v1",
            "iat": now,
            "exp": now + 280,
            "jti": secrets.token_hex(16),
        },
        key,
    )


# -- DPoP ----------------------------------------------------------------------


def dpop_costs(tmp: Path, rounds: int, redis_url: str | None) -> dict[str, float]:
    """DPoP at both ends against the same bare route, in one run: on the SQL
    shared state (the SQLite file) and, when Redis answers, on Redis.

    Proofs are signed before the timing (a client's cost, not the server's),
    so the proof age limit is raised to outlive the run; it costs nothing
    per request.
    """
    from fides_oauth.client import DPoPKey

    config = {"FIDES_OAUTH_DPOP_PROOF_MAX_AGE": 3600}
    stores = {"sql": make_host(tmp / "dpop.sqlite", **config)}
    if redis_url:
        stores["redis"] = make_host(
            tmp / "dpop.sqlite", FIDES_OAUTH_STORAGE_URI=redis_url, **config
        )
    http = stores["sql"].test_client()
    cid, secret = new_client(http, root_headers(http))
    form = {"client_id": cid, "client_secret": secret}
    key = DPoPKey.generate()
    count = supply(rounds)
    token_url = "http://localhost/api/v1/oauth/token"
    policy_url = "http://localhost/api/v1/policy"
    bound = http.post(
        TOKEN_PATH, data=form, headers={"DPoP": key.proof("POST", token_url)}
    ).get_json()["access_token"]
    bearer = {"Authorization": "Bearer " + token_for(http, cid, secret)}
    cases: dict[str, Callable[[], None]] = {
        "bare": expect(200, lambda: http.get("/api/v1/health", headers=bearer)),
        "reused": expect(200, lambda: http.get("/api/v1/policy", headers=bearer)),
        "token_warm": expect(200, lambda: http.post(TOKEN_PATH, data=form)),
    }
    for name, app in stores.items():
        client = app.test_client()
        route_proofs = iter(
            [key.proof("GET", policy_url, access_token=bound) for _ in range(count)]
        )
        token_proofs = iter([key.proof("POST", token_url) for _ in range(count)])

        def route(client: Any = client, proofs: Any = route_proofs) -> Any:
            headers = {"Authorization": "DPoP " + bound, "DPoP": next(proofs)}
            return client.get("/api/v1/policy", headers=headers)

        def token(client: Any = client, proofs: Any = token_proofs) -> Any:
            headers = {"DPoP": next(proofs)}
            return client.post(TOKEN_PATH, data=form, headers=headers)

        cases[f"dpop_route_{name}"] = expect(200, route)
        cases[f"dpop_token_{name}"] = expect(200, token)
    # The parts, alone: the proof check, and the jti claim on each store.
    core = stores["sql"].extensions["fides_oauth"].core
    spare = iter(
        [key.proof("GET", policy_url, access_token=bound) for _ in range(count)]
    )

    def proof_check() -> None:
        core.dpop.check([next(spare)], "GET", policy_url, access_token=bound)

    cases["proof_check"] = proof_check
    for name, app in stores.items():
        checker = app.extensions["fides_oauth"].core.dpop
        claims = iter(
            [
                checker.check([key.proof("GET", policy_url)], "GET", policy_url)
                for _ in range(count)
            ]
        )

        def claim(checker: Any = checker, claims: Any = claims) -> None:
            checker.claim(next(claims))

        cases[f"jti_claim_{name}"] = claim
    with stores["sql"].app_context():
        times = interleaved(cases, rounds)
    for app in stores.values():
        shared = app.extensions["fides_oauth"].core.limiter.shared
        if hasattr(shared, "close"):
            shared.close()
    return times


# -- the cold path -------------------------------------------------------------


def checkpw_seconds(cost: int, times: int = 3) -> float:
    """Median seconds of one bcrypt.checkpw at ``cost``: the floor of any
    cold token request, and the unit the cold figures are read in."""
    hashed = bcrypt.hashpw(b"x" * 43, bcrypt.gensalt(cost))
    spent = []
    for _ in range(times):
        start = time.perf_counter()
        bcrypt.checkpw(b"x" * 43, hashed)
        spent.append(time.perf_counter() - start)
    return statistics.median(spent)


def cold_token(tmp: Path, count: int) -> tuple[float, float]:
    """Median of cold token requests (a credential's first) and of one
    bcrypt.checkpw at the configured cost (12), alternated, in µs."""
    app = make_host(tmp / "cold.sqlite")
    http = app.test_client()
    root = root_headers(http)
    pairs = [new_client(http, root, scopes=[]) for _ in range(count)]
    cold, check = [], []
    hashed = bcrypt.hashpw(b"x" * 43, bcrypt.gensalt(12))
    for cid, secret in pairs:
        start = time.perf_counter()
        token_for(http, cid, secret)
        cold.append(time.perf_counter() - start)
        start = time.perf_counter()
        bcrypt.checkpw(b"x" * 43, hashed)
        check.append(time.perf_counter() - start)
    return statistics.median(cold) * 1e6, statistics.median(check) * 1e6
