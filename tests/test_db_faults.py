"""Database faults: a private PostgreSQL cluster is stopped mid-flow and
started again; the app answers 503 JSON meanwhile, writes nothing partial,
and recovers without a restart."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import create_engine
from sqlalchemy import func
from sqlalchemy import select

from fides_oauth.models import OAuthClient
from tests.conftest import ROOT_ID
from tests.conftest import ROOT_SECRET
from tests.conftest import OAuth
from tests.conftest import bearer
from tests.pgcluster import PrivateCluster
from tests.pgcluster import find_binary

pytestmark = pytest.mark.skipif(
    not (find_binary("initdb") and find_binary("pg_ctl")),
    reason="PostgreSQL server binaries (initdb, pg_ctl) are not installed here",
)


@pytest.fixture
def cluster() -> Iterator[PrivateCluster]:
    pg = PrivateCluster()
    pg.start()
    try:
        yield pg
    finally:
        pg.destroy()


def _count(url: str) -> int:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return int(
                connection.scalar(select(func.count()).select_from(OAuthClient)) or 0
            )
    finally:
        engine.dispose()


def _assert_unavailable(response: Any) -> None:
    assert response.status_code == 503, response.data
    assert response.mimetype == "application/json"
    assert response.get_json()["error"] == "temporarily_unavailable"


def test_outage_answers_503_writes_nothing_and_recovers(
    cluster: PrivateCluster, make_app: Any
) -> None:
    app = make_app(SQLALCHEMY_DATABASE_URI=cluster.url)
    oauth = OAuth(app, app.test_client())
    root = oauth.root_headers()
    created = oauth.create_client(["policy:read"], headers=root)
    client_headers = bearer(oauth.token(created["client_id"], created["client_secret"]))
    assert _count(cluster.url) == 1

    cluster.stop()
    down_at = time.monotonic()
    http = oauth.http
    _assert_unavailable(
        http.post("/api/v1/oauth/client", json=["rule:read"], headers=root)
    )
    _assert_unavailable(
        http.post(
            "/api/v1/oauth/token",
            data={"client_id": ROOT_ID, "client_secret": ROOT_SECRET},
        )
    )
    _assert_unavailable(http.get("/api/v1/policy", headers=client_headers))
    _assert_unavailable(http.get("/api/v1/oauth/client", headers=root))
    _assert_unavailable(
        http.post(f"/api/v1/oauth/client/{created['client_id']}/secret", headers=root)
    )
    refused = 5
    while time.monotonic() - down_at < 2.0:  # a two-second outage, under load
        _assert_unavailable(http.get("/api/v1/policy", headers=client_headers))
        refused += 1
    outage = time.monotonic() - down_at

    cluster.start()
    up_at = time.monotonic()
    cluster.wait_until_accepting()
    # The same app, not restarted, works again.
    response = http.get("/api/v1/policy", headers=client_headers)
    recovery = time.monotonic() - up_at
    assert response.status_code == 200
    assert oauth.token(created["client_id"], created["client_secret"])
    again = oauth.create_client(["rule:read"], headers=root)
    assert again["client_id"] != created["client_id"]
    # Nothing half-written during the outage: exactly the two clients made
    # while the database was up, and the first one's secret was not rotated.
    assert _count(cluster.url) == 2
    print(f"outage {outage:.2f}s, {refused} requests got 503, recovery {recovery:.2f}s")


def test_failure_during_commit_returns_no_secret(
    cluster: PrivateCluster, make_app: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = make_app(SQLALCHEMY_DATABASE_URI=cluster.url)
    oauth = OAuth(app, app.test_client())
    root = oauth.root_headers()
    from sqlalchemy.orm import Session

    real_commit = Session.commit

    def failing_commit(self: Session) -> None:
        cluster.stop()  # the database dies exactly as the client is written
        real_commit(self)

    monkeypatch.setattr(Session, "commit", failing_commit)
    response = oauth.http.post("/api/v1/oauth/client", json=["rule:read"], headers=root)
    monkeypatch.setattr(Session, "commit", real_commit)
    _assert_unavailable(response)
    assert "client_secret" not in response.get_json()
    cluster.start()
    cluster.wait_until_accepting()
    assert _count(cluster.url) == 0
    assert oauth.create_client(["rule:read"], headers=root)["client_id"]
