"""Concurrent successes on a real multi-worker server: every answer is 200.

Token requests write (each attempt is counted before bcrypt and taken back
after it succeeds, and a first success from an address records it). Those
writes once took row locks in two different orders, and on PostgreSQL
concurrent requests for one client deadlocked into 503s. Legitimate
clients must never be refused because other requests ran at the same time.
"""

from __future__ import annotations

import random
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import select

from fides_oauth.limits import FailureLimiter
from fides_oauth.shared_sql import SqlSharedState
from tests.conftest import ROOT_ID
from tests.conftest import OAuth
from tests.servers import gunicorn
from tests.servers import worker_env

pytest.importorskip("gunicorn")


@pytest.fixture
def storage_uri(any_store: str | None) -> str | None:
    """Every test here runs on the SQL shared state and on Redis."""
    return any_store


THREADS = 8


def _env(url: str, storage_uri: str | None) -> dict[str, str]:
    return worker_env(
        url,
        "http://127.0.0.1/api/v1",
        storage_uri,
        FIDES_OAUTH_WORKERS_FAILURE_LIMIT="10",  # the library's default
    )


def test_cold_and_warm_token_requests_across_three_workers_all_succeed(
    make_app: Any, tmp_path: Path, storage_uri: str | None
) -> None:
    app = make_app()
    oauth = OAuth(app, app.test_client())
    created = [oauth.create_client(["policy:read"]) for _ in range(50)]
    pairs = [(c["client_id"], c["client_secret"]) for c in created]
    burst_one = oauth.create_client(["rule:read"])  # one client, many at once
    with gunicorn(
        "tests.wsgi_workers:app",
        tmp_path / "gunicorn.log",
        workers=3,
        env=_env(app.config["SQLALCHEMY_DATABASE_URI"], storage_uri),
    ) as server:

        def token(pair: tuple[str, str]) -> tuple[int, str]:
            response = requests.post(
                server.api + "/oauth/token",
                data={"client_id": pair[0], "client_secret": pair[1]},
                timeout=60,
            )
            return response.status_code, response.text

        one = (burst_one["client_id"], burst_one["client_secret"])
        with ThreadPoolExecutor(THREADS) as pool:
            # 50 cold (never seen by any worker), then the same 50 again
            # (warm where the same worker answers), then 24 for one client.
            cold = list(pool.map(token, pairs))
            warm = list(pool.map(token, random.sample(pairs, len(pairs))))
            burst = list(pool.map(token, [one] * 24))
        log = server.log()
    for status, body in cold + warm + burst:
        assert status == 200, body
    assert "deadlock" not in log.lower()
    assert "Traceback" not in log
    assert "Storage failed" not in log  # a failed last-use mark is logged so
    # Every client was marked used, by whichever worker answered first.
    with app.app_context():
        from examples.host_app import db
        from fides_oauth.models import OAuthClient

        marks = db.session.scalars(select(OAuthClient.last_used_at)).all()
        db.session.remove()
    assert len(marks) == 51
    assert all(mark is not None for mark in marks)


def test_limiter_writes_in_parallel_never_fail(app: Any) -> None:
    """The limiter's own transactions, hammered from many threads on the
    same keys: counting, taking back and remembering sources interleave
    without a deadlock or lock error reaching the caller."""
    from examples.host_app import db

    with app.app_context():
        engine = db.engine
    shared = app.extensions["fides_oauth"].core.limiter.shared
    if isinstance(shared, SqlSharedState):  # threads have no app context
        shared = SqlSharedState(lambda: engine)
    limiter = FailureLimiter(10_000, 60, shared)
    errors: list[BaseException] = []
    barrier = threading.Barrier(THREADS)

    def work(worker: int) -> None:
        barrier.wait()
        try:
            for round_ in range(15):
                address = f"10.0.0.{(worker + round_) % 3}"
                attempt = limiter.assess(f"client-{round_ % 2}", address)
                limiter.record(attempt.keys)
                limiter.succeeded(attempt, counted=True)
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    # Every count was taken back: nobody is left over the limit.
    attempt = limiter.assess("client-0", "10.0.0.1")
    assert attempt.retry_after is None


STORM = 200


def test_a_cold_storm_of_first_tokens_across_three_workers_has_no_error(
    make_app: Any, tmp_path: Path, storage_uri: str | None
) -> None:
    """200 clients no worker has seen fetch their first token at the same
    moment: every one is a bcrypt check (outside the GIL), a failure-limit
    read, a known-source write and a last-use mark, on three workers at
    once. Every answer must be a token. (Latencies: the benchmark.)"""
    import bcrypt

    from examples.host_app import db
    from fides_oauth.models import OAuthClient

    app = make_app()
    secret = "storm-secret-" + "x" * 30
    # Cost 10: the real check's shape (the default is 12) at a test's pace.
    hashed = bcrypt.hashpw(secret.encode(), bcrypt.gensalt(10)).decode()
    ids = [f"{n:032x}" for n in range(1, STORM + 1)]
    with app.app_context():
        db.session.add_all(
            OAuthClient(
                id=client_id,
                secret_hash=hashed,
                scopes=["policy:read"],
                created_by=ROOT_ID,
            )
            for client_id in ids
        )
        db.session.commit()
        db.session.remove()
    with gunicorn(
        "tests.wsgi_workers:app",
        tmp_path / "gunicorn.log",
        workers=3,
        env=_env(app.config["SQLALCHEMY_DATABASE_URI"], storage_uri),
    ) as server:
        start = threading.Barrier(STORM)

        def first_token(client_id: str) -> tuple[int, str]:
            session = requests.Session()
            start.wait()
            response = session.post(
                server.api + "/oauth/token",
                data={"client_id": client_id, "client_secret": secret},
                timeout=120,
            )
            session.close()
            return response.status_code, response.text

        with ThreadPoolExecutor(STORM) as pool:
            answers = list(pool.map(first_token, ids))
        log = server.log()
    failed = [(status, body) for status, body in answers if status != 200]
    assert failed == [], failed[:3]
    assert "Traceback" not in log
    assert "Storage failed" not in log
