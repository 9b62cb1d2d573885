"""What every section of the benchmark shares: the host app, the timing loop,
tokens, and the databases it may create and must clean up.

Imported through ``bench.py``, which puts the project root on ``sys.path``
first (``examples`` and ``fides_oauth`` are imported from there).
"""

from __future__ import annotations

import base64
import json
import logging
import os
import random
import statistics
import sys
import time
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import create_engine
from sqlalchemy import text
from sqlalchemy.engine import make_url

from examples.host_app import create_app
from examples.host_app import db
from fides_oauth.clients import ClientRecord
from fides_oauth.migrate import VERSION_TABLE
from fides_oauth.models import metadata

ROOT = Path(__file__).resolve().parent.parent
ROOT_ID = "bench-root"
ROOT_SECRET = "bench-root-secret-0123456789"
#: One key-encryption key for every app of a run, in-process or gunicorn: a
#: store prepared in this process must open in the server's workers, and the
#: host app's demo-key notice would otherwise fill every log.
KEY_ENCRYPTION_KEY = "bench-only-key-encryption-key-0123456789abcdef"
TOKEN_PATH = "/api/v1/oauth/token"
CLIENT_PATH = "/api/v1/oauth/client"

#: (measure, median, ratio, target): one line of the printed table.
Row = tuple[str, str, str, str]

#: Failures that make a figure meaningless (a load that saw errors, a server
#: that did not start): printed under the table, and the exit status is 1.
FAILURES: list[str] = []
#: Things worth a look that do not invalidate a figure (unexpected lines in
#: a server's log): printed under the table.
NOTES: list[str] = []


def say(message: str) -> None:
    """Progress on stderr, so a ten-minute run shows where it is and stdout
    keeps only the table."""
    print(f"bench: {message}", file=sys.stderr, flush=True)


@contextmanager
def audit_trail_in(path: Path) -> Iterator[None]:
    """The reference host's audit trail as a deployment has it — INFO, one
    formatted line per event — written to a file rather than the terminal:
    its cost stays in the figures (the library skips building lines nobody
    logs), and the progress lines stay readable. The host app leaves a
    logger it finds configured alone."""
    audit = logging.getLogger("fides_oauth.audit")
    handler = logging.FileHandler(path)
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(message)s"))
    audit.setLevel(logging.INFO)
    audit.addHandler(handler)
    audit.propagate = False
    try:
        yield
    finally:
        audit.removeHandler(handler)
        handler.close()


# -- timing ----------------------------------------------------------------


def interleaved(cases: dict[str, Callable[[], None]], rounds: int) -> dict[str, float]:
    """Median microseconds per case, the cases run in a new order each round:
    drift on a shared machine then hits every case alike, so ratios hold."""
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


def supply(rounds: int) -> int:
    """How many one-use items (fresh tokens, proofs) a case consumes in
    :func:`interleaved`: its warm-up, its rounds and a margin."""
    return rounds + max(rounds // 10, 1) + 10


def expect(status: int, call: Callable[[], Any]) -> Callable[[], None]:
    """``call``, stopping the run on any other status: a fast error page
    must never pass for a fast check."""

    def run() -> None:
        response = call()
        if response.status_code != status:
            raise SystemExit(
                f"unexpected {response.status_code}: {response.data[:200]!r}"
            )

    return run


# -- the host app ------------------------------------------------------------


def database_url(where: Path | str) -> str:
    """An SQLite file given as a path, or any SQLAlchemy URL as is."""
    return f"sqlite:///{where}" if isinstance(where, Path) else where


def make_host(where: Path | str, **config: Any) -> Flask:
    """The reference host app on ``where``, with the benchmark's root client."""
    app: Flask = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": database_url(where),
            "FIDES_OAUTH_ROOT_CLIENT_ID": ROOT_ID,
            "FIDES_OAUTH_ROOT_CLIENT_SECRET": ROOT_SECRET,
            "FIDES_OAUTH_KEY_ENCRYPTION_KEY": KEY_ENCRYPTION_KEY,
            **config,
        }
    )
    return app


def release(app: Flask) -> None:
    """Close an app's pooled connections now, not at exit: a database the
    run created is then dropped without waiting on them."""
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def token_for(http: Any, client_id: str, secret: str) -> str:
    response = http.post(
        TOKEN_PATH, data={"client_id": client_id, "client_secret": secret}
    )
    assert response.status_code == 200, response.data
    return str(response.get_json()["access_token"])


def root_headers(http: Any) -> dict[str, str]:
    return {"Authorization": "Bearer " + token_for(http, ROOT_ID, ROOT_SECRET)}


def new_client(
    http: Any, root: dict[str, str], scopes: list[str] | None = None
) -> tuple[str, str]:
    """A client created through the HTTP API: its id and secret."""
    response = http.post(
        CLIENT_PATH, json=["policy:read"] if scopes is None else scopes, headers=root
    )
    assert response.status_code in (200, 201), response.data
    body = response.get_json()
    return str(body["client_id"]), str(body["client_secret"])


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


def unverified_claims(token: str) -> dict[str, Any]:
    """A JWT's claims, unchecked: to learn a token's ``jti`` ahead of the
    timing, never to trust it."""
    payload = token.split(".")[1]
    return dict(
        json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    )


def record_of(app: Flask, client_id: str) -> ClientRecord:
    with app.test_request_context():
        record = app.extensions["fides_oauth"].core.store.find_client(client_id)
        db.session.remove()
    assert record is not None
    return record


# -- where the figures are taken -----------------------------------------------


def postgres_url() -> str | None:
    return os.environ.get("BENCH_POSTGRES_URL") or os.environ.get(
        "FIDES_OAUTH_TEST_DATABASE_URL"
    )


def redis_url() -> str | None:
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


def clean_redis(url: str | None) -> None:
    """Delete the library's keys (``fides_oauth:*``) from the benchmark's
    own Redis database — only when BENCH_REDIS_URL names it: the tests'
    default database may be in use by a running suite."""
    if not url or url != os.environ.get("BENCH_REDIS_URL"):
        return
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=1)
    try:
        names = list(client.scan_iter(match="fides_oauth:*", count=1000))
        for start in range(0, len(names), 1000):
            client.delete(*names[start : start + 1000])
    finally:
        client.close()


def drop_everything(url: str) -> None:
    """Drop the library's tables, whatever an earlier run left there (even
    keys sealed under another key-encryption key, which start-up refuses)."""
    engine = create_engine(url)
    try:
        metadata.drop_all(engine)
        with engine.begin() as connection:
            connection.execute(text(f"DROP TABLE IF EXISTS {VERSION_TABLE}"))
    finally:
        engine.dispose()


def fresh_store(url: str, **config: Any) -> None:
    """An empty store at ``url``: the tables dropped and made again (by the
    host app's start-up, as a deployment would), its connections closed."""
    drop_everything(url)
    release(make_host(url, **config))


@contextmanager
def scratch_databases(url: str, suffixes: Iterable[str]) -> Iterator[list[str]]:
    """PostgreSQL databases of the run's own, named after the one in ``url``
    (``bench`` gives ``bench_small``, ``bench_big``): two stores that
    cannot collide, measured side by side, then dropped."""
    base = make_url(url)
    names = [f"{base.database}_{suffix}" for suffix in suffixes]
    admin = create_engine(base, isolation_level="AUTOCOMMIT")

    def drop_all() -> None:
        with admin.connect() as connection:
            for name in names:
                # FORCE: connections of the library's own fast reader, which
                # outlive the app objects, must not keep the drop waiting.
                connection.execute(
                    text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                )

    try:
        drop_all()
        with admin.connect() as connection:
            for name in names:
                connection.execute(text(f'CREATE DATABASE "{name}"'))
        yield [
            base.set(database=name).render_as_string(hide_password=False)
            for name in names
        ]
    finally:
        drop_all()
        admin.dispose()
