"""The per-process caches: bounded, and never wrong.

A reused token is answered from memory only while no change has been
committed since; a credential skips bcrypt only while the client still has
the hash it matched; every cache has a bound.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from fides_oauth import store as store_module
from fides_oauth.cache import BoundedCache
from fides_oauth.cache import Credentials
from tests.conftest import ROOT_ID
from tests.conftest import ROOT_SECRET
from tests.conftest import OAuth
from tests.conftest import basic


@pytest.fixture
def slow_path(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts full verifications (signature check and client reload)."""
    import fides_oauth.tokens as tokens

    calls: list[int] = []
    real = tokens._verify_fully

    def counting(state: Any, token: str, issuer: str) -> Any:
        calls.append(1)
        return real(state, token, issuer)

    monkeypatch.setattr(tokens, "_verify_fully", counting)
    return calls


def test_bounded_cache_evicts_the_least_recently_used() -> None:
    cache: BoundedCache[int, int] = BoundedCache(3)
    for n in range(3):
        cache.put(n, n)
    assert cache.get(0) == 0  # 0 is now the most recent
    cache.put(3, 3)
    assert cache.get(1) is None
    assert [cache.get(n) for n in (0, 2, 3)] == [0, 2, 3]
    assert len(cache) == 3


def test_reused_token_skips_the_full_check(oauth: OAuth, slow_path: list[int]) -> None:
    _, _, headers = oauth.client_with(["policy:read"])
    slow_path.clear()
    for _ in range(5):
        assert oauth.http.get("/api/v1/policy", headers=headers).status_code == 200
    assert len(slow_path) == 1


@pytest.mark.parametrize(
    "change", ["scope", "delete", "revoke", "revoke_tokens", "update"]
)
def test_any_committed_change_ends_the_cached_answer(
    oauth: OAuth, slow_path: list[int], change: str
) -> None:
    client_id, secret, headers = oauth.client_with(["policy:read", "rule:read"])
    assert oauth.http.get("/api/v1/policy", headers=headers).status_code == 200
    root = oauth.root_headers()
    token = headers["Authorization"].split()[1]
    http = oauth.http
    expected = 401
    if change == "scope":
        http.put(
            f"/api/v1/oauth/client/{client_id}/scope", json=["rule:read"], headers=root
        )
        expected = 403
    elif change == "delete":
        http.delete(f"/api/v1/oauth/client/{client_id}", headers=root)
    elif change == "revoke":
        http.post(
            "/api/v1/oauth/revoke",
            data={"token": token},
            headers=basic(client_id, secret),
        )
    elif change == "revoke_tokens":
        http.post(f"/api/v1/oauth/client/{client_id}/revoke-tokens", headers=root)
    else:
        http.put(f"/api/v1/oauth/client/{client_id}", json={"scopes": []}, headers=root)
        expected = 403
    slow_path.clear()
    assert http.get("/api/v1/policy", headers=headers).status_code == expected
    assert slow_path == [1]


def test_a_change_made_by_another_worker_ends_the_cached_answer(make_app: Any) -> None:
    first, second = make_app(), make_app()  # two workers, one database
    one, two = OAuth(first, first.test_client()), OAuth(second, second.test_client())
    client_id, _, headers = one.client_with(["policy:read"])
    assert two.http.get("/api/v1/policy", headers=headers).status_code == 200
    one.http.put(
        f"/api/v1/oauth/client/{client_id}/scope", json=[], headers=one.root_headers()
    )
    assert two.http.get("/api/v1/policy", headers=headers).status_code == 403


def test_token_cache_is_bounded(make_app: Any) -> None:
    app = make_app(FIDES_OAUTH_TOKEN_CACHE_SIZE=5)
    oauth = OAuth(app, app.test_client())
    client_id, secret, _ = oauth.client_with(["policy:read"])
    for _ in range(12):
        token = oauth.token(client_id, secret)
        oauth.http.get("/api/v1/policy", headers={"Authorization": f"Bearer {token}"})
    assert len(app.extensions["fides_oauth"].core.verified) == 5


def test_bcrypt_runs_once_per_credential(
    oauth: OAuth, bcrypt_checks: list[bytes]
) -> None:
    created = oauth.create_client(["rule:read"])
    bcrypt_checks.clear()
    for _ in range(4):
        oauth.token(created["client_id"], created["client_secret"])
    assert len(bcrypt_checks) == 1


def test_wrong_secrets_are_never_remembered(
    oauth: OAuth, bcrypt_checks: list[bytes]
) -> None:
    created = oauth.create_client(["rule:read"])
    bcrypt_checks.clear()
    for _ in range(3):
        response = oauth.http.post(
            "/api/v1/oauth/token",
            data={"client_id": created["client_id"], "client_secret": "wrong"},
        )
        assert response.status_code == 401
    assert len(bcrypt_checks) == 3  # each failure pays bcrypt


def test_rotated_out_secret_is_not_accepted_from_memory(oauth: OAuth) -> None:
    created = oauth.create_client(["rule:read"])
    oauth.token(created["client_id"], created["client_secret"])  # remembered now
    oauth.http.post(
        f"/api/v1/oauth/client/{created['client_id']}/secret",
        headers=oauth.root_headers(),
    )
    response = oauth.http.post(
        "/api/v1/oauth/token",
        data={
            "client_id": created["client_id"],
            "client_secret": created["client_secret"],
        },
    )
    assert response.status_code == 401


def test_deleted_client_is_not_accepted_from_memory(oauth: OAuth) -> None:
    created = oauth.create_client(["rule:read"])
    oauth.token(created["client_id"], created["client_secret"])
    oauth.http.delete(
        f"/api/v1/oauth/client/{created['client_id']}", headers=oauth.root_headers()
    )
    response = oauth.http.post(
        "/api/v1/oauth/token",
        data={
            "client_id": created["client_id"],
            "client_secret": created["client_secret"],
        },
    )
    assert response.status_code == 401


def test_credential_cache_keeps_no_plaintext_and_is_bounded() -> None:
    cache = Credentials(size=2)
    cache.remember("id-1", "secret-one", "$2b$hash1")
    cache.remember("id-2", "secret-two", "$2b$hash2")
    cache.remember("id-3", "secret-three", "$2b$hash3")
    assert len(cache) == 2
    assert cache.matched_hash("id-1", "secret-one") is None
    assert cache.matched_hash("id-3", "secret-three") == "$2b$hash3"
    assert cache.matched_hash("id-3", "secret-two") is None
    stored = repr(cache._cache._data)
    assert "secret" not in stored and "id-3" not in stored


def test_credential_keys_differ_between_processes_state() -> None:
    one, two = Credentials(), Credentials()
    one.remember("id", "secret", "$2b$h")
    assert two.matched_hash("id", "secret") is None


def test_fast_reads_match_the_session(oauth: OAuth) -> None:
    created = oauth.create_client(["rule:read", "policy:read"])
    app = oauth.app
    st = app.extensions["fides_oauth"]
    with app.test_request_context():
        fast = st.core.store.reader.fetch_one(
            store_module._CLIENT_LOOKUP, {"id": created["client_id"], "jti": "nope"}
        )
        from examples.host_app import db

        slow = db.session.execute(
            store_module._CLIENT_LOOKUP, {"id": created["client_id"], "jti": "nope"}
        ).first()
        db.session.remove()
        assert fast is not None and slow is not None
        assert dict(fast) == dict(slow._mapping)
        assert sorted(fast["scopes"]) == ["policy:read", "rule:read"]
        assert st.core.store.reader.counter() is not None


def test_the_attempt_read_matches_the_session(oauth: OAuth, clock: Any) -> None:
    """The failure limiter's read on the fast reader (prepared through libpq
    on PostgreSQL) gives the rows the session gives: counters, and the
    source's mark as a row whose count is -1."""
    from examples.host_app import db
    from fides_oauth import shared_sql

    app = oauth.app
    limiter = app.extensions["fides_oauth"].core.limiter
    now = time.time()
    with app.app_context():
        limiter.record(["a" * 64, "b" * 64], now=now)
        limiter.shared.succeeded([], "c" * 64, now, 3600)
        params = {
            "k0": "a" * 64,
            "k1": "b" * 64,
            "k2": "d" * 64,
            "opened_after": now - 60,
            "source": "c" * 64,
            "trusted_after": now - 3600,
        }
        fast = app.extensions["fides_oauth"].core.store.reader.fetch_all(
            shared_sql._ATTEMPT_READ, params
        )
        slow = db.session.execute(shared_sql._ATTEMPT_READ, params).all()
        db.session.remove()
    assert sorted(tuple(row.values()) for row in fast) == sorted(
        tuple(row) for row in slow
    )
    assert sorted((row["key"][0], row["failures"]) for row in fast) == [
        ("a", 1),
        ("b", 1),
        ("c", -1),
    ]


def test_a_new_reader_read_from_many_threads_at_once_gives_right_rows(
    oauth: OAuth,
) -> None:
    """The first reads of a process race: each statement must keep its own
    prepared name on every connection (a root lookup answered by the client
    lookup's statement would pass revoked root tokens)."""
    import threading

    from examples.host_app import db

    created = oauth.create_client(["rule:read"])
    app = oauth.app
    store = app.extensions["fides_oauth"].core.store
    errors: list[BaseException] = []
    start = threading.Barrier(12)

    def work(index: int) -> None:
        with app.app_context():
            try:
                start.wait()
                for round_ in range(30):
                    if (index + round_) % 2:
                        root = store.client_for_token(ROOT_ID, "no-such-jti")
                        assert root is not None and root[0].is_root
                    else:
                        found = store.client_for_token(created["client_id"], "x")
                        assert found is not None
                        assert found[0].scopes == frozenset({"rule:read"})
                    assert store.counter() is not None
            except BaseException as error:  # noqa: BLE001 - reported below
                errors.append(error)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=work, args=(n,)) for n in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []


def test_sqlalchemy_placeholders_become_libpq_ones() -> None:
    from fides_oauth.fast_reader import _numbered

    sql, order = _numbered("a = %(x)s AND b = %(y)s OR c = %(x)s OR d LIKE 'x%%'")
    assert sql == b"a = $1 AND b = $2 OR c = $1 OR d LIKE 'x%'"
    assert order == ("x", "y")


def test_root_token_still_checks_revocation_from_memory(oauth: OAuth) -> None:
    token = oauth.root_token()
    headers = {"Authorization": f"Bearer {token}"}
    assert oauth.http.get("/api/v1/oauth/scope", headers=headers).status_code == 200
    oauth.http.post(
        "/api/v1/oauth/revoke",
        data={"token": token},
        headers=basic(ROOT_ID, ROOT_SECRET),
    )
    assert oauth.http.get("/api/v1/oauth/scope", headers=headers).status_code == 401


def test_issuer_memory_is_bounded_whatever_hosts_are_sent(oauth: OAuth) -> None:
    # The issuer is worked out once per host name; hostile Host headers must
    # not grow that memory without bound.
    token = oauth.root_token()
    for index in range(200):
        oauth.http.get(
            "/api/v1/oauth/scope",
            headers={"Authorization": f"Bearer {token}", "Host": f"h{index}.example"},
        )
    assert len(oauth.app.extensions["fides_oauth"].issuer._derived) <= 64


def test_reader_keeps_a_bounded_number_of_connections(oauth: OAuth) -> None:
    import threading

    reader = oauth.app.extensions["fides_oauth"].core.store.reader
    barrier = threading.Barrier(16)

    def read() -> None:
        with oauth.app.test_request_context():
            barrier.wait()
            reader.counter()

    threads = [threading.Thread(target=read) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(reader._idle) <= 8
