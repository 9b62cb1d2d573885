"""Many workers, one truth: gunicorn with three sync workers on one database.

A change made through any worker is honoured by every worker on its very
next request, and all workers sign with one key, even when they all load it
at once from an empty table.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import create_engine
from sqlalchemy import func
from sqlalchemy import select

from fides_oauth.models import SigningKey
from tests.conftest import ROOT_ID
from tests.conftest import ROOT_SECRET
from tests.servers import free_port
from tests.servers import gunicorn
from tests.servers import worker_env

WORKERS = 3
MAX_REQUESTS_PER_CHECK = 240
BATCH = 12

pytest.importorskip("gunicorn")


@pytest.fixture
def storage_uri(any_store: str | None) -> str | None:
    """Every test here runs on the SQL shared state and on Redis."""
    return any_store


class Cluster:
    def __init__(self, base: str) -> None:
        self.base = base
        self.api = base + "/api/v1"
        self.requests = 0

    def call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        self.requests += 1
        headers = {"Connection": "close", **kwargs.pop("headers", {})}
        return requests.request(
            method, self.api + path, headers=headers, timeout=20, **kwargs
        )

    def on_every_worker(
        self,
        method: str,
        path: str,
        check: Callable[[requests.Response], None],
        **kw: Any,
    ) -> set[str]:
        """Send until every worker has answered; check every answer.

        Requests go in concurrent batches: an idle sync worker is not
        guaranteed a turn by sequential requests, a busy set of them is.
        """
        seen: set[str] = set()
        with ThreadPoolExecutor(max_workers=BATCH) as pool:
            for _ in range(MAX_REQUESTS_PER_CHECK // BATCH):
                batch = [
                    pool.submit(self.call, method, path, **kw) for _ in range(BATCH)
                ]
                for future in batch:
                    response = future.result()
                    check(response)
                    seen.add(response.headers["X-Worker-Pid"])
                if len(seen) == WORKERS:
                    return seen
        raise AssertionError(f"only {len(seen)} workers answered")

    def token(self, client_id: str, secret: str) -> tuple[str, str]:
        response = self.call(
            "POST",
            "/oauth/token",
            data={"client_id": client_id, "client_secret": secret},
        )
        assert response.status_code == 200, response.text
        return response.json()["access_token"], response.headers["X-Worker-Pid"]


def _batch(call: Callable[[], tuple[str, str]]) -> list[tuple[str, str]]:
    """``call`` BATCH times at once."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(BATCH) as pool:
        return list(pool.map(lambda _: call(), range(BATCH)))


@pytest.fixture
def workers(
    make_app: Any, tmp_path: Path, storage_uri: str | None
) -> Iterator[tuple[Cluster, str]]:
    app = make_app()  # creates the tables (and drops them afterwards)
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    port = free_port()
    env = worker_env(url, f"http://127.0.0.1:{port}/api/v1", storage_uri)
    with gunicorn(
        "tests.wsgi_workers:app",
        tmp_path / "gunicorn.log",
        workers=WORKERS,
        env=env,
        port=port,
    ) as server:
        yield Cluster(server.base), url


def _status(expected: int) -> Callable[[requests.Response], None]:
    def check(response: requests.Response) -> None:
        assert response.status_code == expected, response.text
        assert response.headers["Content-Type"].startswith("application/json")

    return check


def test_every_worker_honours_every_change_at_once(
    workers: tuple[Cluster, str],
) -> None:
    cluster, url = workers
    # The workers load the signing key from an empty table under a burst of
    # concurrent requests (the race itself is pinned down deterministically
    # in test_keys.py); they must end up with one key between them.
    with ThreadPoolExecutor(max_workers=12) as pool:
        roots = list(pool.map(lambda _: cluster.token(ROOT_ID, ROOT_SECRET), range(24)))
    cluster.on_every_worker(
        "POST",
        "/oauth/token",
        _status(200),
        data={"client_id": ROOT_ID, "client_secret": ROOT_SECRET},
    )
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            assert connection.scalar(select(func.count()).select_from(SigningKey)) == 1
    finally:
        engine.dispose()
    kids = set()
    cluster.on_every_worker(
        "GET", "/oauth/jwks", lambda r: kids.add(r.json()["keys"][0]["kid"])
    )
    assert len(kids) == 1
    root = {"Authorization": f"Bearer {roots[0][0]}"}

    # A client created through one worker gets a token from another.
    created = cluster.call(
        "POST", "/oauth/client", json=["policy:read", "rule:read"], headers=root
    )
    assert created.status_code == 200
    maker = created.headers["X-Worker-Pid"]
    client_id, secret = created.json()["client_id"], created.json()["client_secret"]
    # Concurrent batches: sequential requests may all go to one idle worker.
    for _ in range(MAX_REQUESTS_PER_CHECK // BATCH):
        batch = _batch(lambda: cluster.token(client_id, secret))
        others = [token for token, pid in batch if pid != maker]
        if others:
            token = others[0]
            break
    else:
        raise AssertionError("no other worker issued a token")
    headers = {"Authorization": f"Bearer {token}"}
    cluster.on_every_worker("GET", "/policy", _status(200), headers=headers)

    # A scope change through one worker: every worker refuses at once.
    changed = cluster.call(
        "PUT", f"/oauth/client/{client_id}/scope", json=["rule:read"], headers=root
    )
    assert changed.status_code == 200
    cluster.on_every_worker("GET", "/policy", _status(403), headers=headers)
    cluster.on_every_worker("GET", "/rule", _status(200), headers=headers)

    # A rotation: the old secret fails on every worker, the new one works.
    rotated = cluster.call("POST", f"/oauth/client/{client_id}/secret", headers=root)
    new_secret = rotated.json()["client_secret"]
    cluster.on_every_worker(
        "POST",
        "/oauth/token",
        _status(401),
        data={"client_id": client_id, "client_secret": secret},
    )
    token, _ = cluster.token(client_id, new_secret)
    headers = {"Authorization": f"Bearer {token}"}

    # A token revocation (RFC 7009) through one worker.
    assert (
        cluster.call(
            "POST", "/oauth/revoke", data={"token": token}, auth=(client_id, new_secret)
        ).status_code
        == 200
    )
    cluster.on_every_worker("GET", "/rule", _status(401), headers=headers)

    # Revoking every token of the client.
    token, _ = cluster.token(client_id, new_secret)
    headers = {"Authorization": f"Bearer {token}"}
    cluster.on_every_worker("GET", "/rule", _status(200), headers=headers)
    assert cluster.call(
        "POST", f"/oauth/client/{client_id}/revoke-tokens", headers=root
    ).ok
    cluster.on_every_worker("GET", "/rule", _status(401), headers=headers)

    # A deletion.
    token, _ = cluster.token(client_id, new_secret)
    headers = {"Authorization": f"Bearer {token}"}
    assert (
        cluster.call("DELETE", f"/oauth/client/{client_id}", headers=root).status_code
        == 204
    )
    cluster.on_every_worker("GET", "/rule", _status(401), headers=headers)
    cluster.on_every_worker(
        "POST",
        "/oauth/token",
        _status(401),
        data={"client_id": client_id, "client_secret": new_secret},
    )
    print(f"{WORKERS} workers, {cluster.requests} requests")
