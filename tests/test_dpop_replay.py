"""A DPoP proof is single-use across workers and hosts (CONTRACT §8, §10):
two app instances on one database, and gunicorn worker processes, on the
SQL shared state and on Redis."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import OAuth
from tests.conftest import Prover
from tests.conftest import assert_error
from tests.conftest import basic
from tests.conftest import dpop

HOST = "http://localhost"
TOKEN = "/api/v1/oauth/token"
POLICY = "/api/v1/policy"


@pytest.fixture
def storage_uri(any_store: str | None) -> str | None:
    return any_store


def test_replay_across_two_instances(make_app: Any) -> None:
    first, second = make_app(), make_app()  # two workers, one store
    one, two = OAuth(first, first.test_client()), OAuth(second, second.test_client())
    prover = Prover()
    created = one.create_client(["policy:read"])
    headers = list(basic(created["client_id"], created["client_secret"]).items())
    proof = prover.proof("POST", HOST + TOKEN)
    granted = one.http.post(TOKEN, headers=[*headers, ("DPoP", proof)])
    assert granted.status_code == 200
    replayed = two.http.post(TOKEN, headers=[*headers, ("DPoP", proof)])
    assert_error(replayed, 400, "invalid_dpop_proof")

    token = granted.get_json()["access_token"]
    proof = prover.proof("GET", HOST + POLICY, token=token)
    assert one.http.get(POLICY, headers=dpop(token, proof)).status_code == 200
    assert_error(
        two.http.get(POLICY, headers=dpop(token, proof)), 401, "invalid_dpop_proof"
    )
    fresh = prover.proof("GET", HOST + POLICY, token=token)
    assert two.http.get(POLICY, headers=dpop(token, fresh)).status_code == 200


def test_a_proof_replayed_across_worker_processes_succeeds_once(
    make_app: Any, tmp_path: Any, storage_uri: str | None
) -> None:
    """Three gunicorn workers; a bound token used with good proofs from
    several threads at once (concurrent successes), then one proof sent in
    bursts of twelve: it is accepted exactly once across processes."""
    from concurrent.futures import ThreadPoolExecutor

    import requests

    from tests.servers import bursts_across_processes
    from tests.servers import free_port
    from tests.servers import gunicorn
    from tests.servers import worker_env

    app = make_app()
    oauth = OAuth(app, app.test_client())
    created = oauth.create_client(["policy:read"])
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = worker_env(
        app.config["SQLALCHEMY_DATABASE_URI"], base + "/api/v1", storage_uri
    )
    prover = Prover()
    with gunicorn(
        "tests.wsgi_workers:app", tmp_path / "g.log", workers=3, env=env, port=port
    ) as server:
        granted = requests.post(
            server.api + "/oauth/token",
            auth=(created["client_id"], created["client_secret"]),
            headers={"DPoP": prover.proof("POST", server.api + "/oauth/token")},
            timeout=30,
        )
        assert granted.status_code == 200, granted.text
        token = granted.json()["access_token"]
        url = server.api + "/policy"

        def fresh(_: int) -> int:
            proof = prover.proof("GET", url, token=token)
            return requests.get(url, headers=dpop(token, proof), timeout=30).status_code

        with ThreadPoolExecutor(8) as pool:
            assert list(pool.map(fresh, range(40))) == [200] * 40

        proof = prover.proof("GET", url, token=token)

        answers = bursts_across_processes(
            lambda: requests.get(url, headers=dpop(token, proof), timeout=30)
        )
        log = server.log()
    statuses = sorted(status for status, _ in answers)
    assert statuses == [200] + [401] * (len(answers) - 1), answers
    assert len({pid for _, pid in answers}) > 1
    assert "Traceback" not in log, log
