"""Failed-authentication limits at the token endpoint (CVE-2025-57815)."""

from __future__ import annotations

from typing import Any

import pytest

from fides_oauth.limits import FailureLimiter
from tests.conftest import ROOT_ID
from tests.conftest import ROOT_SECRET
from tests.conftest import FakeClock
from tests.conftest import OAuth

TOKEN = "/api/v1/oauth/token"


@pytest.fixture
def storage_uri(any_store: str | None) -> str | None:
    """Every test here runs on the SQL shared state and on Redis."""
    return any_store


def _attempt(http: Any, client_id: str, secret: str, addr: str = "10.0.0.1") -> Any:
    return http.post(
        TOKEN,
        data={"client_id": client_id, "client_secret": secret},
        environ_base={"REMOTE_ADDR": addr},
    )


def test_limit_per_client_id_answers_429_without_bcrypt(
    make_app: Any, bcrypt_checks: list[bytes]
) -> None:
    app = make_app(FIDES_OAUTH_AUTH_FAILURE_LIMIT=3)
    http = app.test_client()
    for index in range(3):  # from three addresses: the id's count is what trips
        assert _attempt(http, ROOT_ID, "wrong", f"10.0.0.{index}").status_code == 401
    bcrypt_checks.clear()
    response = _attempt(http, ROOT_ID, ROOT_SECRET, "10.0.0.99")
    assert response.status_code == 429
    assert response.mimetype == "application/json"
    assert response.get_json()["error"] == "too_many_requests"
    assert 1 <= int(response.headers["Retry-After"]) <= 60
    assert bcrypt_checks == []  # refused before any bcrypt work


def test_limit_per_address_covers_many_client_ids(make_app: Any) -> None:
    app = make_app(FIDES_OAUTH_AUTH_FAILURE_LIMIT=3)
    http = app.test_client()
    for index in range(3):
        assert _attempt(http, f"{index:032x}", "guess").status_code == 401
    assert _attempt(http, ROOT_ID, ROOT_SECRET).status_code == 429
    # Another address, and the root client itself, are not affected.
    assert _attempt(http, ROOT_ID, ROOT_SECRET, "10.9.9.9").status_code == 200


def test_other_clients_from_other_addresses_are_unaffected(make_app: Any) -> None:
    app = make_app(FIDES_OAUTH_AUTH_FAILURE_LIMIT=2)
    http = app.test_client()
    oauth = OAuth(app, http)
    victim = oauth.create_client(["rule:read"])
    other = oauth.create_client(["rule:read"])
    for _ in range(5):
        _attempt(http, victim["client_id"], "wrong", "10.6.6.6")
    assert (
        _attempt(
            http, victim["client_id"], victim["client_secret"], "10.1.1.1"
        ).status_code
        == 429
    )
    assert (
        _attempt(
            http, other["client_id"], other["client_secret"], "10.1.1.1"
        ).status_code
        == 200
    )


def test_window_expiry_lets_attempts_through_again(
    make_app: Any, clock: FakeClock
) -> None:
    app = make_app(
        clock=clock,
        FIDES_OAUTH_AUTH_FAILURE_LIMIT=2,
        FIDES_OAUTH_AUTH_FAILURE_WINDOW_SECONDS=30,
    )
    http = app.test_client()
    _attempt(http, ROOT_ID, "wrong")
    _attempt(http, ROOT_ID, "wrong")
    limited = _attempt(http, ROOT_ID, ROOT_SECRET)
    assert limited.status_code == 429
    assert limited.headers["Retry-After"] == "30"
    clock.advance(29)
    assert _attempt(http, ROOT_ID, ROOT_SECRET).headers["Retry-After"] == "1"
    clock.advance(1.5)
    assert _attempt(http, ROOT_ID, ROOT_SECRET).status_code == 200


def test_success_does_not_count(make_app: Any) -> None:
    app = make_app(FIDES_OAUTH_AUTH_FAILURE_LIMIT=2)
    http = app.test_client()
    for _ in range(5):
        assert _attempt(http, ROOT_ID, ROOT_SECRET).status_code == 200


def test_missing_credentials_are_not_counted(make_app: Any) -> None:
    app = make_app(FIDES_OAUTH_AUTH_FAILURE_LIMIT=2)
    http = app.test_client()
    for _ in range(4):
        assert (
            http.post(
                TOKEN, data={}, environ_base={"REMOTE_ADDR": "10.0.0.1"}
            ).status_code
            == 401
        )
    assert _attempt(http, ROOT_ID, ROOT_SECRET).status_code == 200


def test_two_app_instances_on_one_database_share_the_count(make_app: Any) -> None:
    # Two workers of one deployment: the limit is not multiplied by workers.
    first = make_app(FIDES_OAUTH_AUTH_FAILURE_LIMIT=4)
    second = make_app(FIDES_OAUTH_AUTH_FAILURE_LIMIT=4)
    one, two = first.test_client(), second.test_client()
    for http in (one, two, one, two):
        assert _attempt(http, ROOT_ID, "wrong").status_code == 401
    assert _attempt(one, ROOT_ID, ROOT_SECRET).status_code == 429
    assert _attempt(two, ROOT_ID, ROOT_SECRET).status_code == 429


def test_basic_auth_failures_count_too(make_app: Any) -> None:
    from tests.conftest import basic

    app = make_app(FIDES_OAUTH_AUTH_FAILURE_LIMIT=2)
    http = app.test_client()
    for _ in range(2):
        assert http.post(TOKEN, headers=basic(ROOT_ID, "wrong")).status_code == 401
    assert http.post(TOKEN, headers=basic(ROOT_ID, ROOT_SECRET)).status_code == 429


def test_expired_rows_are_pruned(make_app: Any) -> None:
    from examples.host_app import db
    from fides_oauth.limits import client_key

    app = make_app()
    with app.app_context():
        limiter: FailureLimiter = app.extensions["fides_oauth"].core.limiter
        limiter.record([client_key(f"id-{n}") for n in range(50)], now=1000.0)
        limiter.record([client_key("fresh")], now=5000.0)
        pruned = limiter.prune(now=5000.0)
        assert pruned == (
            50 if app.config.get("FIDES_OAUTH_STORAGE_URI") is None else 0
        )
        assert (
            limiter.retry_after([client_key(f"id-{n}") for n in range(50)], now=5000.0)
            is None
        )
        assert limiter.retry_after([client_key("fresh")], now=5000.0) is None
        db.session.remove()


def test_concurrent_guesses_cannot_slip_past_the_limit(make_app: Any) -> None:
    import threading
    from concurrent.futures import ThreadPoolExecutor

    import requests
    from werkzeug.serving import make_server

    app = make_app(FIDES_OAUTH_AUTH_FAILURE_LIMIT=3)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:

        def guess(_: int) -> int:
            return requests.post(
                f"http://127.0.0.1:{server.server_port}/api/v1/oauth/token",
                data={"client_id": ROOT_ID, "client_secret": "wrong-secret"},
                timeout=60,
            ).status_code

        with ThreadPoolExecutor(8) as pool:
            statuses = list(pool.map(guess, range(24)))
    finally:
        server.shutdown()
        thread.join(timeout=10)
    # Every attempt is counted before bcrypt runs: at most the limit get a
    # verdict, all the others are refused unchecked.
    assert statuses.count(401) <= 3
    assert statuses.count(429) >= 21


# -- not a lockout weapon ------------------------------------------------------
# Client ids are not secret: failures against an id from elsewhere, or by a
# careless neighbour behind the same address, must not lock out a client that
# presents its correct credentials from where it has authenticated before.


def test_failures_from_elsewhere_do_not_lock_out_a_known_source(make_app: Any) -> None:
    app = make_app(FIDES_OAUTH_AUTH_FAILURE_LIMIT=3)
    http = app.test_client()
    victim = OAuth(app, http).create_client(["rule:read"])
    vid, secret = victim["client_id"], victim["client_secret"]
    assert _attempt(http, vid, secret, "10.1.1.1").status_code == 200
    for index in range(20):  # an attacker who knows the id, from 20 addresses
        _attempt(http, vid, "wrong", f"10.6.6.{index}")
    # Where the client has authenticated before, it still gets its token...
    assert _attempt(http, vid, secret, "10.1.1.1").status_code == 200
    # ...while guessing from anywhere else stays bounded: even the right
    # secret from a new address is refused until the window passes.
    assert _attempt(http, vid, secret, "10.2.2.2").status_code == 429


def test_a_careless_neighbour_does_not_lock_out_the_root(make_app: Any) -> None:
    app = make_app(FIDES_OAUTH_AUTH_FAILURE_LIMIT=3)
    http = app.test_client()
    assert _attempt(http, ROOT_ID, ROOT_SECRET, "10.0.0.1").status_code == 200
    for index in range(10):  # another tool's typos, from the same address
        _attempt(http, f"{index:032x}", "typo", "10.0.0.1")
    assert _attempt(http, ROOT_ID, ROOT_SECRET, "10.0.0.1").status_code == 200
    # The address is still limited for everyone it has not proved itself for.
    assert _attempt(http, f"{99:032x}", "typo", "10.0.0.1").status_code == 429


def test_guessing_from_a_known_source_is_bounded_too(
    make_app: Any, bcrypt_checks: list[bytes]
) -> None:
    app = make_app(FIDES_OAUTH_AUTH_FAILURE_LIMIT=3)
    http = app.test_client()
    assert _attempt(http, ROOT_ID, ROOT_SECRET, "10.1.1.1").status_code == 200
    for _ in range(3):  # someone else behind the client's own address
        assert _attempt(http, ROOT_ID, "guess", "10.1.1.1").status_code == 401
    bcrypt_checks.clear()
    assert _attempt(http, ROOT_ID, "guess", "10.1.1.1").status_code == 429
    assert bcrypt_checks == []


def test_known_sources_can_be_turned_off(make_app: Any) -> None:
    app = make_app(FIDES_OAUTH_AUTH_FAILURE_LIMIT=3, FIDES_OAUTH_TRUSTED_SOURCE_DAYS=0)
    http = app.test_client()
    assert _attempt(http, ROOT_ID, ROOT_SECRET, "10.1.1.1").status_code == 200
    for index in range(3):
        _attempt(http, ROOT_ID, "wrong", f"10.6.6.{index}")
    assert _attempt(http, ROOT_ID, ROOT_SECRET, "10.1.1.1").status_code == 429


def test_a_known_source_expires(make_app: Any) -> None:
    from fides_oauth.limits import source_key

    app = make_app(FIDES_OAUTH_AUTH_FAILURE_LIMIT=3, FIDES_OAUTH_TRUSTED_SOURCE_DAYS=1)
    limiter: FailureLimiter = app.extensions["fides_oauth"].core.limiter
    with app.app_context():
        fresh = limiter.assess(ROOT_ID, "10.1.1.1", now=1000.0)
        assert fresh.known_since is None
        limiter.succeeded(fresh, counted=False, now=1000.0)
        known = limiter.assess(ROOT_ID, "10.1.1.1", now=1000.0 + 86399)
        assert known.keys == (source_key(ROOT_ID, "10.1.1.1"),)
        gone = limiter.assess(ROOT_ID, "10.1.1.1", now=1000.0 + 86401)
        assert gone.known_since is None
        assert source_key(ROOT_ID, "10.1.1.1") not in gone.keys


def test_counts_live_in_the_configured_store(make_app: Any) -> None:
    import redis
    from sqlalchemy import func
    from sqlalchemy import select

    from examples.host_app import db
    from fides_oauth.models import AuthFailure

    app = make_app(FIDES_OAUTH_AUTH_FAILURE_LIMIT=3)
    http = app.test_client()
    for _ in range(2):
        assert _attempt(http, ROOT_ID, "wrong").status_code == 401
    with app.app_context():
        rows = db.session.scalar(select(func.count()).select_from(AuthFailure))
        db.session.remove()
    uri = app.config.get("FIDES_OAUTH_STORAGE_URI")
    if uri is None:
        assert rows == 2  # the client id's counter and the address's
    else:
        assert rows == 0  # nothing in SQL: Redis holds them
        client = redis.Redis.from_url(uri)
        assert len(list(client.scan_iter(match="fides_oauth:f:*"))) == 2
        client.close()
