"""Measure the bearer check and the token endpoint against a bare route and
against Authlib's ready-made opaque-token validator, in one run.

    python benchmarks/bench.py            # every target, about two minutes
    python benchmarks/bench.py --quick    # a smoke run for CI (seconds)

Times are medians of interleaved requests through Flask's test client on an
SQLite file, in one process; what matters is the ratios, which hold on a
noisy shared machine where absolute times wander. The real-server part runs
gunicorn (2 sync workers) on 127.0.0.1 with a bounded load generator, on
SQLite and — when BENCH_POSTGRES_URL or FIDES_OAUTH_TEST_DATABASE_URL names
one — on PostgreSQL.
"""

from __future__ import annotations

import argparse
import gc
import http.client
import json
import logging
import os
import random
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
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
from joserfc import jwt
from joserfc.jwk import ECKey
from sqlalchemy import Integer
from sqlalchemy import create_engine
from sqlalchemy import insert
from sqlalchemy import text
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from examples.host_app import create_app
from examples.host_app import db
from fides_oauth import create_tables
from fides_oauth import drop_tables
from fides_oauth.clients import ClientRecord
from fides_oauth.migrate import VERSION_TABLE
from fides_oauth.models import AuthFailure
from fides_oauth.models import OAuthClient
from fides_oauth.models import RevokedToken
from fides_oauth.models import metadata
from fides_oauth.tokens import verify_token

ROOT_ID = "bench-root"
ROOT_SECRET = "bench-root-secret-0123456789"


# -- harness -----------------------------------------------------------------


def interleaved(cases: dict[str, Callable[[], None]], rounds: int) -> dict[str, float]:
    """Median microseconds per case, the cases run in a new order each round."""
    samples: dict[str, list[int]] = {name: [] for name in cases}
    names = list(cases)
    for _ in range(max(rounds // 10, 1)):  # warm up
        for name in names:
            cases[name]()
    for _ in range(rounds):
        random.shuffle(names)
        for name in names:
            start = time.perf_counter_ns()
            cases[name]()
            samples[name].append(time.perf_counter_ns() - start)
    return {name: statistics.median(values) / 1000 for name, values in samples.items()}


def expect(status: int, call: Callable[[], Any]) -> Callable[[], None]:
    def run() -> None:
        response = call()
        if response.status_code != status:
            raise SystemExit(
                f"unexpected {response.status_code}: {response.data[:200]!r}"
            )

    return run


def make_host(path: Path, **config: Any) -> Flask:
    return create_app(
        {
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}",
            "FIDES_OAUTH_ROOT_CLIENT_ID": ROOT_ID,
            "FIDES_OAUTH_ROOT_CLIENT_SECRET": ROOT_SECRET,
            **config,
        }
    )


def token_for(http: Any, client_id: str, secret: str) -> str:
    response = http.post(
        "/api/v1/oauth/token", data={"client_id": client_id, "client_secret": secret}
    )
    assert response.status_code == 200, response.data
    return str(response.get_json()["access_token"])


def mint(app: Flask, client: ClientRecord, count: int) -> list[str]:
    """Tokens signed by the app's token generator, without the endpoint.

    Pass another app on the same database (another worker) to get tokens
    the measured app has never seen: their first use is then a real one.
    """
    state = app.extensions["fides_oauth"]
    with app.test_request_context(base_url="http://localhost"):
        return [
            state.server.generate_token(
                "client_credentials", client, scope=None, include_refresh_token=False
            )["access_token"]
            for _ in range(count)
        ]


def record_of(app: Flask, client_id: str) -> ClientRecord:
    with app.test_request_context():
        record = app.extensions["fides_oauth"].core.store.find_client(client_id)
        db.session.remove()
    assert record is not None
    return record


# -- the anchor: Authlib's opaque-token validator, one token row per request --


def anchor_app(path: Path) -> tuple[Flask, str]:
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


# -- sections ----------------------------------------------------------------


def bearer_and_token(tmp: Path, rounds: int) -> dict[str, float]:
    app = make_host(tmp / "main.sqlite")
    http = app.test_client()
    root = {"Authorization": "Bearer " + token_for(http, ROOT_ID, ROOT_SECRET)}
    created = http.post(
        "/api/v1/oauth/client", json=["policy:read"], headers=root
    ).get_json()
    cid, secret = created["client_id"], created["client_secret"]
    reused = {"Authorization": "Bearer " + token_for(http, cid, secret)}
    other_worker = make_host(tmp / "main.sqlite")
    fresh = iter(mint(other_worker, record_of(app, cid), rounds + rounds // 10 + 10))
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
    assertions = iter(
        [_assertion(client_key, key_client) for _ in range(rounds + rounds // 10 + 10)]
    )
    times = interleaved(
        {
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
            "token_warm": expect(
                200, lambda: http.post("/api/v1/oauth/token", data=form)
            ),
            "token_assertion": expect(
                200,
                lambda: http.post(
                    "/api/v1/oauth/token",
                    data={
                        "client_assertion_type": ASSERTION_TYPE,
                        "client_assertion": next(assertions),
                    },
                ),
            ),
        },
        rounds,
    )
    return times


ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def _assertion(key: ECKey, client_id: str) -> str:
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


def _redis_url() -> str | None:
    """A reachable Redis for the Redis rows (BENCH_REDIS_URL, else the tests'
    default); None skips them."""
    url = os.environ.get("BENCH_REDIS_URL") or os.environ.get(
        "FIDES_OAUTH_TEST_REDIS_URL", "redis://127.0.0.1:6379/15"
    )
    if not url:
        return None
    try:
        import redis

        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
    except Exception:  # noqa: BLE001 - any failure: no Redis rows
        return None
    return url


def dpop_costs(tmp: Path, rounds: int) -> dict[str, float]:
    """DPoP at both ends against the same bare route, in one run: on the SQL
    shared state (the SQLite file) and, when Redis answers, on Redis.

    Proofs are signed before the timing (a client's cost, not the server's),
    so the proof age limit is raised to outlive the run; it costs nothing
    per request.
    """
    from fides_oauth.client import DPoPKey

    config = {"FIDES_OAUTH_DPOP_PROOF_MAX_AGE": 3600}
    stores = {"sql": make_host(tmp / "dpop.sqlite", **config)}
    redis_url = _redis_url()
    if redis_url:
        stores["redis"] = make_host(
            tmp / "dpop.sqlite", FIDES_OAUTH_STORAGE_URI=redis_url, **config
        )
    http = stores["sql"].test_client()
    root = {"Authorization": "Bearer " + token_for(http, ROOT_ID, ROOT_SECRET)}
    created = http.post(
        "/api/v1/oauth/client", json=["policy:read"], headers=root
    ).get_json()
    cid, secret = created["client_id"], created["client_secret"]
    form = {"client_id": cid, "client_secret": secret}
    key = DPoPKey.generate()
    count = rounds + rounds // 10 + 10
    token_url = "http://localhost/api/v1/oauth/token"
    policy_url = "http://localhost/api/v1/policy"
    bound = http.post(
        "/api/v1/oauth/token", data=form, headers={"DPoP": key.proof("POST", token_url)}
    ).get_json()["access_token"]
    bearer = {"Authorization": "Bearer " + token_for(http, cid, secret)}
    cases: dict[str, Callable[[], None]] = {
        "bare": expect(200, lambda: http.get("/api/v1/health", headers=bearer)),
        "reused": expect(200, lambda: http.get("/api/v1/policy", headers=bearer)),
        "token_warm": expect(200, lambda: http.post("/api/v1/oauth/token", data=form)),
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
            return client.post("/api/v1/oauth/token", data=form, headers=headers)

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
        cases[f"jti_claim_{name}"] = lambda checker=checker, claims=claims: (
            checker.claim(next(claims))
        )
    with stores["sql"].app_context():
        times = interleaved(cases, rounds)
    for app in stores.values():
        shared = app.extensions["fides_oauth"].core.limiter.shared
        if hasattr(shared, "close"):
            shared.close()
    return times


def cold_token(tmp: Path, count: int) -> tuple[float, float]:
    """Median of cold token requests (a credential's first) and of one
    bcrypt.checkpw at the configured cost (12)."""
    app = make_host(tmp / "cold.sqlite")
    http = app.test_client()
    root = {"Authorization": "Bearer " + token_for(http, ROOT_ID, ROOT_SECRET)}
    pairs = []
    for _ in range(count):
        body = http.post("/api/v1/oauth/client", json=[], headers=root).get_json()
        pairs.append((body["client_id"], body["client_secret"]))
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


def fill(app: Flask, clients: int) -> None:
    now = time.time()
    dummy = bcrypt.hashpw(b"unused", bcrypt.gensalt(4)).decode()
    with app.app_context():
        rows = [
            {
                "id": f"{n:032x}",
                "secret_hash": dummy,
                "scopes": ["policy:read"],
                "created_by": ROOT_ID,
            }
            for n in range(clients)
        ]
        for start in range(0, clients, 20_000):
            db.session.execute(insert(OAuthClient), rows[start : start + 20_000])
            db.session.execute(
                insert(RevokedToken),
                [
                    {"jti": f"j{n}", "client_id": f"{n:032x}", "expires_at": now + 3600}
                    for n in range(start, min(start + 20_000, clients))
                ],
            )
            db.session.execute(
                insert(AuthFailure),
                [
                    {"key": f"{n:064x}", "window_start": now, "failures": 1}
                    for n in range(start, min(start + 20_000, clients))
                ],
            )
        db.session.commit()
        db.session.remove()


def flat_with_size(tmp: Path, big: int, rounds: int) -> dict[str, float]:
    results: dict[str, float] = {}
    cases: dict[str, Callable[[], None]] = {}
    for label, size in (("small", 10), ("big", big)):
        app = make_host(tmp / f"{label}.sqlite", FIDES_OAUTH_BCRYPT_ROUNDS=4)
        fill(app, size)
        http = app.test_client()
        root = {"Authorization": "Bearer " + token_for(http, ROOT_ID, ROOT_SECRET)}
        created = http.post(
            "/api/v1/oauth/client", json=["policy:read"], headers=root
        ).get_json()
        headers = {
            "Authorization": "Bearer "
            + token_for(http, created["client_id"], created["client_secret"])
        }
        other_worker = make_host(tmp / f"{label}.sqlite", FIDES_OAUTH_BCRYPT_ROUNDS=4)
        tokens = iter(
            mint(other_worker, record_of(app, created["client_id"]), rounds * 2 + 10)
        )
        cases[f"{label}_reused"] = expect(
            200,
            lambda http=http, headers=headers: http.get(
                "/api/v1/policy", headers=headers
            ),
        )
        cases[f"{label}_first"] = expect(
            200,
            lambda http=http, tokens=tokens: http.get(
                "/api/v1/policy", headers={"Authorization": "Bearer " + next(tokens)}
            ),
        )
        cases[f"{label}_list"] = expect(
            200,
            lambda http=http, root=root: http.get("/api/v1/oauth/client", headers=root),
        )
    results.update(interleaved(cases, rounds))
    return results


def rss_kib() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def memory(tmp: Path, count: int) -> float:
    app = make_host(tmp / "memory.sqlite", FIDES_OAUTH_BCRYPT_ROUNDS=4)
    http = app.test_client()
    root = {"Authorization": "Bearer " + token_for(http, ROOT_ID, ROOT_SECRET)}
    created = http.post(
        "/api/v1/oauth/client", json=["policy:read"], headers=root
    ).get_json()
    record = record_of(app, created["client_id"])
    state = app.extensions["fides_oauth"]
    batch = 5_000
    gc.collect()
    before = rss_kib()
    other_worker = make_host(tmp / "memory.sqlite", FIDES_OAUTH_BCRYPT_ROUNDS=4)
    for start in range(0, count, batch):
        tokens = mint(other_worker, record, min(batch, count - start))
        with app.test_request_context(base_url="http://localhost"):
            for token in tokens:
                verify_token(state.core, token, state.issuer())
            db.session.remove()
        del tokens
    gc.collect()
    return (rss_kib() - before) / 1024


# -- real server -------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _load(
    port: int, path: str, headers: dict[str, str], seconds: float, threads: int
) -> float:
    """Requests per second from ``threads`` loopback clients for ``seconds``."""
    done = [0] * threads
    stop = time.monotonic() + seconds

    def client(index: int) -> None:
        while time.monotonic() < stop:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            conn.request("GET", path, headers=headers)
            response = conn.getresponse()
            response.read()
            conn.close()
            if response.status != 200:
                raise SystemExit(f"{path}: {response.status}")
            done[index] += 1

    workers = [threading.Thread(target=client, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return sum(done) / seconds


def real_server(url: str, seconds: float, rounds: int) -> tuple[float, float]:
    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "FIDES_OAUTH_ROOT_CLIENT_ID": ROOT_ID,
        "FIDES_OAUTH_ROOT_CLIENT_SECRET": ROOT_SECRET,
        "PYTHONPATH": str(ROOT),
    }
    # A clean store first, whatever an earlier run left (even keys sealed
    # under another key-encryption key, which start-up would refuse).
    _drop_everything(url)
    prepared = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": url,
            **{
                k: env[k]
                for k in (
                    "FIDES_OAUTH_ROOT_CLIENT_ID",
                    "FIDES_OAUTH_ROOT_CLIENT_SECRET",
                )
            },
        }
    )
    with prepared.app_context():
        drop_tables()  # a clean store, whatever an earlier run left
        create_tables()
        db.engine.dispose()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "--workers",
            "2",
            "--bind",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
            "examples.host_app:create_app()",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                conn.request("GET", "/api/v1/health")
                if conn.getresponse().status == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("gunicorn did not start")
            time.sleep(0.2)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.request(
            "POST",
            "/api/v1/oauth/token",
            body=f"client_id={ROOT_ID}&client_secret={ROOT_SECRET}",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        token = json.loads(conn.getresponse().read())["access_token"]
        headers = {"Authorization": "Bearer " + token}
        bare, protected = [], []
        for _ in range(rounds):
            bare.append(_load(port, "/api/v1/health", headers, seconds, 4))
            protected.append(_load(port, "/api/v1/oauth/scope", headers, seconds, 4))
        return statistics.median(bare), statistics.median(protected)
    finally:
        os.kill(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
        # And clean after: the database may be the test suite's, whose apps
        # could not open keys sealed under this run's demo KEK.
        _drop_everything(url)


def _drop_everything(url: str) -> None:
    engine = create_engine(url)
    metadata.drop_all(engine)
    with engine.begin() as connection:
        connection.execute(text(f"DROP TABLE IF EXISTS {VERSION_TABLE}"))
    engine.dispose()


# -- report ------------------------------------------------------------------


def main() -> int:
    # The benchmark's hosts derive their issuer from the request on purpose
    # (the default path); the start-up warning about it is for deployments.
    logging.getLogger("fides_oauth").setLevel(logging.ERROR)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small counts, for CI")
    parser.add_argument("--skip-server", action="store_true", help="no gunicorn part")
    parser.add_argument("--memory", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory:  # the memory figure, in a process of its own
        with tempfile.TemporaryDirectory() as folder:
            print(memory(Path(folder), args.memory))
        return 0
    quick = args.quick
    rounds = 150 if quick else 3000
    rows: list[tuple[str, str, str, str]] = []

    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        t = bearer_and_token(tmp, rounds)
        bare = t["bare"]
        rows += [
            ("bare unprotected route", f"{bare:.0f} µs", "1.00", ""),
            (
                "Authlib opaque-token validator (anchor)",
                f"{t['anchor']:.0f} µs",
                f"{t['anchor'] / bare:.2f}",
                "",
            ),
            (
                "bearer check, reused token",
                f"{t['reused']:.0f} µs",
                f"{t['reused'] / bare:.2f}",
                "≤ 1.3",
            ),
            (
                "bearer check, token's first use",
                f"{t['first_use']:.0f} µs",
                f"{t['first_use'] / bare:.2f}",
                "≤ 2.0",
            ),
            (
                "token request, warm credentials",
                f"{t['token_warm']:.0f} µs",
                f"{t['token_warm'] / bare:.2f}",
                "≤ 10",
            ),
        ]
        d = dpop_costs(tmp, rounds)
        dpop_bare = d["bare"]
        rows.append(
            (
                "DPoP: bare route (this section's baseline)",
                f"{dpop_bare:.0f} µs",
                "1.00",
                "",
            )
        )
        for store in ("sql", "redis"):
            if f"dpop_route_{store}" not in d:
                continue
            label = "SQLite" if store == "sql" else "Redis"
            rows += [
                (
                    f"DPoP-protected request, jti on {label}",
                    f"{d[f'dpop_route_{store}']:.0f} µs",
                    f"{d[f'dpop_route_{store}'] / dpop_bare:.2f}",
                    "≤ 1.8",
                ),
                (
                    f"DPoP token request, warm, jti on {label}",
                    f"{d[f'dpop_token_{store}']:.0f} µs",
                    f"{d[f'dpop_token_{store}'] / dpop_bare:.2f}",
                    "≤ 10",
                ),
                (
                    f"  part: jti claim on {label}",
                    f"{d[f'jti_claim_{store}']:.0f} µs",
                    f"{d[f'jti_claim_{store}'] / dpop_bare:.2f}",
                    "",
                ),
            ]
        rows += [
            (
                "  part: proof check (signature, htm/htu, iat, ath)",
                f"{d['proof_check']:.0f} µs",
                f"{d['proof_check'] / dpop_bare:.2f}",
                "",
            ),
            (
                "  bearer, reused token / token request, warm (same run)",
                f"{d['reused']:.0f} / {d['token_warm']:.0f} µs",
                f"{d['reused'] / dpop_bare:.2f} / {d['token_warm'] / dpop_bare:.2f}",
                "",
            ),
        ]
        cold, check = cold_token(tmp, 2 if quick else 5)
        rows.append(
            (
                "token request, private_key_jwt",
                f"{t['token_assertion']:.0f} µs",
                f"{t['token_assertion'] / bare:.2f}",
                "≤ 10",
            )
        )
        rows.append(
            (
                "token request, cold (bcrypt cost 12)",
                f"{cold / 1000:.1f} ms",
                f"{cold / check:.2f} x checkpw",
                "≤ 1.1 x checkpw",
            )
        )
        big = 2_000 if quick else 100_000
        f = flat_with_size(tmp, big, 100 if quick else 1500)
        rows += [
            (
                f"reused token, {big:,} clients ÷ 10",
                f"{f['big_reused']:.0f} µs",
                f"{f['big_reused'] / f['small_reused']:.2f}",
                "≤ 1.10",
            ),
            (
                f"first use, {big:,} clients ÷ 10",
                f"{f['big_first']:.0f} µs",
                f"{f['big_first'] / f['small_first']:.2f}",
                "≤ 1.10",
            ),
            (
                f"GET /oauth/client page 1, {big:,} clients ÷ 10",
                f"{f['big_list']:.0f} µs",
                f"{f['big_list'] / f['small_list']:.2f}",
                "≤ 5",
            ),
        ]
        count = 5_000 if quick else 100_000
        # A fresh process, so memory freed by the sections above cannot hide
        # what the caches keep.
        grown = float(
            subprocess.run(
                [sys.executable, __file__, "--memory", str(count)],
                capture_output=True,
                text=True,
                check=True,
            ).stdout.split()[-1]
        )
        rows.append(
            (
                f"RSS growth after verifying {count:,} distinct tokens",
                f"{grown:.1f} MB",
                "",
                "≤ 50 MB",
            )
        )
        if not args.skip_server:
            seconds, server_rounds = (1.0, 1) if quick else (3.0, 3)
            urls = [("SQLite", f"sqlite:///{tmp / 'server.sqlite'}")]
            pg = os.environ.get("BENCH_POSTGRES_URL") or os.environ.get(
                "FIDES_OAUTH_TEST_DATABASE_URL"
            )
            if pg:
                urls.append(("PostgreSQL", pg))
            for label, url in urls:
                bare_rps, protected_rps = real_server(url, seconds, server_rounds)
                rows.append(
                    (
                        f"gunicorn 2 workers, {label}: protected ÷ bare req/s",
                        f"{protected_rps:.0f} / {bare_rps:.0f} req/s",
                        f"{protected_rps / bare_rps:.2f}",
                        "≥ 0.8",
                    )
                )

    width = [max(len(row[i]) for row in rows) for i in range(4)]
    header = ("measure", "median", "ratio", "target")
    width = [max(w, len(h)) for w, h in zip(width, header, strict=True)]
    line = (
        "| " + " | ".join(h.ljust(w) for h, w in zip(header, width, strict=True)) + " |"
    )
    print(line)
    print("|" + "|".join("-" * (w + 2) for w in width) + "|")
    for row in rows:
        print(
            "| "
            + " | ".join(c.ljust(w) for c, w in zip(row, width, strict=True))
            + " |"
        )
    print(
        f"\n{'quick' if quick else 'full'} run, {rounds} interleaved requests per case,"
        f" Python {sys.version.split()[0]}, {os.cpu_count()} CPUs"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
