"""Concurrency without loss, over a real socket with a threaded server."""

from __future__ import annotations

import itertools
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import bcrypt
import requests
from sqlalchemy import select

from fides_oauth.limits import client_key
from fides_oauth.models import AuthFailure
from tests.conftest import ROOT_ID
from tests.conftest import ROOT_SECRET
from tests.conftest import OAuth

THREADS = 8


def _root(live: str) -> dict[str, str]:
    token = requests.post(
        live + "/api/v1/oauth/token",
        data={"client_id": ROOT_ID, "client_secret": ROOT_SECRET},
        timeout=30,
    ).json()["access_token"]
    return {"Authorization": f"Bearer {token}"}


def _kept(oauth: OAuth, event: str) -> int:
    """How many ``event`` rows the audit trail holds."""
    with oauth.app.app_context():
        trail = oauth.app.extensions["fides_oauth"].core.trail
        return sum(entry.event == event for entry in trail.recent(limit=10_000))


def test_200_clients_from_8_threads_are_200_distinct_usable_clients(
    oauth: OAuth, live_server: str
) -> None:
    root = _root(live_server)

    def create(index: int) -> dict[str, Any]:
        response = requests.post(
            live_server + "/api/v1/oauth/client",
            json={"scopes": ["policy:read"], "name": f"c{index}"},
            headers=root,
            timeout=60,
        )
        assert response.status_code == 200, response.text
        return dict(response.json())

    with ThreadPoolExecutor(THREADS) as pool:
        created = list(pool.map(create, range(200)))
    assert len({c["client_id"] for c in created}) == 200
    listed = oauth.http.get(
        "/api/v1/oauth/client?size=100", headers=oauth.root_headers()
    ).get_json()
    assert listed["total"] == 200
    assert _kept(oauth, "client_created") == 200  # each with its record

    def usable(client: dict[str, Any]) -> int:
        return requests.post(
            live_server + "/api/v1/oauth/token",
            data={
                "client_id": client["client_id"],
                "client_secret": client["client_secret"],
            },
            timeout=60,
        ).status_code

    with ThreadPoolExecutor(THREADS) as pool:
        assert set(pool.map(usable, created)) == {200}


def test_concurrent_scope_updates_end_in_one_written_value(
    oauth: OAuth, live_server: str
) -> None:
    root = _root(live_server)
    target = oauth.create_client(["rule:read"])
    choices = [
        sorted(pair)
        for pair in itertools.combinations(
            [
                "policy:read",
                "rule:read",
                "policy:create_or_update",
                "rule:create_or_update",
            ],
            2,
        )
    ]

    def put(scopes: list[str]) -> tuple[int, list[str]]:
        status = requests.put(
            f"{live_server}/api/v1/oauth/client/{target['client_id']}/scope",
            json=scopes,
            headers=root,
            timeout=60,
        ).status_code
        return status, scopes

    with ThreadPoolExecutor(THREADS) as pool:
        answers = list(pool.map(put, choices * 4))
    # A write that read a version another write replaced answers 409 and
    # writes nothing; at least one wins.
    assert {status for status, _ in answers} <= {200, 409}
    written = [scopes for status, scopes in answers if status == 200]
    assert written
    # A change and its audit record commit together: one record per win,
    # none for a 409.
    assert _kept(oauth, "client_scopes_changed") == len(written)
    final = oauth.http.get(
        f"/api/v1/oauth/client/{target['client_id']}/scope",
        headers=oauth.root_headers(),
    ).get_json()
    assert final in written


def test_concurrent_rotations_leave_exactly_one_current_secret(
    oauth: OAuth, live_server: str
) -> None:
    root = _root(live_server)
    target = oauth.create_client(["rule:read"])

    def rotate(_: int) -> str | None:
        response = requests.post(
            f"{live_server}/api/v1/oauth/client/{target['client_id']}/secret",
            headers=root,
            timeout=60,
        )
        assert response.status_code in (200, 409), response.text
        if response.status_code == 409:  # lost the race: nothing written
            return None
        return str(response.json()["client_secret"])

    with ThreadPoolExecutor(THREADS) as pool:
        secrets = list(pool.map(rotate, range(16)))
    from examples.host_app import db
    from fides_oauth.models import OAuthClient

    with oauth.app.app_context():
        stored = db.session.get(OAuthClient, target["client_id"])
        assert stored is not None
        current, previous = stored.secret_hash, stored.previous_secret_hash
        db.session.remove()
    assert previous is None  # no grace asked for: no second secret
    assert any(secrets)
    assert _kept(oauth, "client_secret_rotated") == sum(map(bool, secrets))
    candidates = [target["client_secret"], *[s for s in secrets if s]]
    working = [s for s in candidates if bcrypt.checkpw(s.encode(), current.encode())]
    assert len(working) == 1
    # And the endpoint agrees: that one secret gets a token.
    assert oauth.token(target["client_id"], working[0])


def test_failure_counting_is_exact_under_concurrent_attempts(
    make_app: Any,
) -> None:
    app = make_app(FIDES_OAUTH_AUTH_FAILURE_LIMIT=1000)
    import threading

    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_port}"
    try:

        def fail(_: int) -> int:
            return requests.post(
                base + "/api/v1/oauth/token",
                data={"client_id": ROOT_ID, "client_secret": "wrong-secret"},
                timeout=60,
            ).status_code

        with ThreadPoolExecutor(THREADS) as pool:
            assert set(pool.map(fail, range(40))) == {401}
    finally:
        server.shutdown()
        thread.join(timeout=10)
    from examples.host_app import db

    with app.app_context():
        count = db.session.scalar(
            select(AuthFailure.failures).where(AuthFailure.key == client_key(ROOT_ID))
        )
        db.session.remove()
    assert count == 40
