"""Push invalidation (``FIDES_OAUTH_INVALIDATION = "push"``) and its bound.

In push mode a process keeps the change counter in memory: a listener hears
every change (PostgreSQL NOTIFY, or Redis pub/sub with the Redis store) and
re-reads it, and it is re-read at least every ``MAX_STALENESS`` anyway. The
promise the docs make, checked here: after a change commits, a token that a
worker verified before can pass there for at most ``MAX_STALENESS`` even if
every notice is lost, and for well under that when notices arrive.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask
from sqlalchemy import create_engine
from sqlalchemy import text
from sqlalchemy import update

from fides_oauth.invalidation import CHANNEL
from fides_oauth.invalidation import PushedCounter
from fides_oauth.models import ChangeCounter
from fides_oauth.models import OAuthClient
from tests.conftest import ROOT_ID
from tests.conftest import ROOT_SECRET
from tests.conftest import TEST_DATABASE_URL
from tests.conftest import TEST_REDIS_URL
from tests.conftest import OAuth
from tests.conftest import bearer


def _eventually(condition: Callable[[], bool], seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "not within the time allowed"
        time.sleep(0.005)


# -- the counter itself, with a feed and a clock of the test's own ------------


class Tick:
    """A monotonic clock moved by hand (and by a microsecond per reading,
    as a real one moves between two reads)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        self.now += 1e-6
        return self.now


class FakeFeed:
    """A change feed the test drives: ``notice()``, ``break_()``."""

    def __init__(self) -> None:
        self.subscriptions = 0
        self._noticed = threading.Event()
        self._broken = False
        self.hanging = False
        self.hung = threading.Event()
        self.released = threading.Event()

    def subscribe(self) -> None:
        if self._broken:
            raise ConnectionError("still broken")
        self.subscriptions += 1

    def wait(self, timeout: float) -> bool:
        if self.hanging:  # a listener stuck in its wait: nothing arrives
            self.hung.set()
            self.released.wait(30)
            return False
        noticed = self._noticed.wait(min(timeout, 0.05))
        if self._broken:
            raise ConnectionError("feed broke")
        if noticed:
            self._noticed.clear()
        return noticed

    def close(self) -> None:
        pass

    def notice(self) -> None:
        self._noticed.set()

    def break_(self) -> None:
        self._broken = True

    def repair(self) -> None:
        self._broken = False


class Counter:
    """The stored counter, and how often it was read."""

    def __init__(self) -> None:
        self.value = 7
        self.reads = 0
        self.unreadable = False

    def read(self) -> int | None:
        self.reads += 1
        return None if self.unreadable else self.value


@pytest.fixture
def pushed() -> Iterator[tuple[PushedCounter, Counter, FakeFeed, Tick]]:
    counter, feed, tick = Counter(), FakeFeed(), Tick()
    watch = PushedCounter(
        counter.read, lambda engine: feed, lambda: None, 600.0, monotonic=tick
    )
    watch.current()  # starts the listener
    _eventually(lambda: watch.listening)
    yield watch, counter, feed, tick
    watch.stop()
    feed.released.set()


def test_requests_use_the_pushed_value_without_reading(
    pushed: tuple[PushedCounter, Counter, FakeFeed, Tick],
) -> None:
    watch, counter, _, _ = pushed
    reads = counter.reads
    assert [watch.current() for _ in range(100)] == [7] * 100
    assert counter.reads == reads


def test_a_notice_brings_the_new_value(
    pushed: tuple[PushedCounter, Counter, FakeFeed, Tick],
) -> None:
    watch, counter, feed, _ = pushed
    counter.value = 8
    assert watch.current() == 7  # no notice yet: the value in memory
    feed.notice()
    _eventually(lambda: watch.current() == 8)


def test_with_every_notice_lost_the_value_is_trusted_for_the_bound_only(
    pushed: tuple[PushedCounter, Counter, FakeFeed, Tick],
) -> None:
    watch, counter, feed, tick = pushed
    feed.hanging = True  # and the listener's own re-reads stuck with it
    assert feed.hung.wait(5)
    counter.value = 8  # changed, and its notice lost
    tick.now += watch.max_staleness - 0.01
    assert watch.current() == 7
    tick.now += 0.01  # MAX_STALENESS since the last read was sent
    assert watch.current() == 8


def test_a_broken_feed_makes_every_request_read_until_it_resubscribes(
    pushed: tuple[PushedCounter, Counter, FakeFeed, Tick],
) -> None:
    watch, counter, feed, _ = pushed
    feed.break_()
    _eventually(lambda: not watch.listening)
    counter.value = 9
    reads = counter.reads
    assert watch.current() == 9
    assert watch.current() == 9
    assert counter.reads >= reads + 2
    feed.repair()
    _eventually(lambda: watch.listening)  # subscribed again, after a backoff
    assert feed.subscriptions >= 2


def test_an_unreadable_counter_makes_the_listener_back_off_not_spin(
    pushed: tuple[PushedCounter, Counter, FakeFeed, Tick],
) -> None:
    """The database down, the feed up: the listener's re-reads must back
    off (as a broken feed does), not hammer the database in a loop."""
    watch, counter, _, tick = pushed
    counter.unreadable = True
    tick.now += watch.max_staleness  # a re-read is due
    reads = counter.reads
    time.sleep(0.5)
    assert counter.reads - reads < 10
    assert watch.current() is None  # requests read, and find nothing


def test_a_change_made_by_this_process_is_seen_by_its_next_request(
    pushed: tuple[PushedCounter, Counter, FakeFeed, Tick],
) -> None:
    watch, counter, _, _ = pushed
    counter.value = 10
    watch.forget()  # what the store calls after committing a change
    assert watch.current() == 10


def test_a_read_sent_before_a_change_is_not_kept_after_it(
    pushed: tuple[PushedCounter, Counter, FakeFeed, Tick],
) -> None:
    watch, counter, _, tick = pushed
    release = threading.Event()
    slow_read_sent = threading.Event()

    def slow_read() -> int:
        slow_read_sent.set()
        release.wait(5)
        return 7  # what the table held when the read was sent

    racing = PushedCounter.refresh.__get__(watch)
    watch._read = slow_read  # type: ignore[method-assign]
    reader = threading.Thread(target=racing)
    reader.start()
    assert slow_read_sent.wait(5)
    tick.now += 0.001
    counter.value = 11
    watch.forget()  # the change committed while that read was on its way
    watch._read = counter.read  # type: ignore[method-assign]
    release.set()
    reader.join()
    assert watch.current() == 11


# -- configuration ------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("FIDES_OAUTH_INVALIDATION", "lazy"),
        ("FIDES_OAUTH_MAX_STALENESS_MS", 0),
        ("FIDES_OAUTH_MAX_STALENESS_MS", 600_001),
        ("FIDES_OAUTH_MAX_STALENESS_MS", "1000"),
    ],
)
def test_bad_settings_fail_at_registration(
    make_app: Callable[..., Flask], key: str, value: Any
) -> None:
    with pytest.raises(RuntimeError, match=key):
        make_app(**{key: value})


@pytest.mark.skipif(TEST_DATABASE_URL is not None, reason="SQLite only")
def test_push_on_sqlite_without_redis_fails_at_start_up_saying_what_to_do(
    make_app: Callable[..., Flask],
) -> None:
    with pytest.raises(RuntimeError, match="PostgreSQL through psycopg 3") as raised:
        make_app(FIDES_OAUTH_INVALIDATION="push")
    assert "use 'strict'" in str(raised.value)


# -- in one process, on a real feed -------------------------------------------


def _feeds() -> list[Any]:
    return [
        pytest.param(
            "postgresql",
            marks=pytest.mark.skipif(
                TEST_DATABASE_URL is None, reason="needs PostgreSQL"
            ),
        ),
        pytest.param("redis", marks=pytest.mark.redis),
    ]


@pytest.fixture(params=_feeds())
def feed_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def feed_storage(feed_kind: str, request: pytest.FixtureRequest) -> str | None:
    """The Redis store when the notices go through Redis, else None."""
    if feed_kind != "redis":
        return None
    return request.getfixturevalue("any_store_redis")  # type: ignore[no-any-return]


@pytest.fixture
def any_store_redis() -> Iterator[str]:
    if not TEST_REDIS_URL:
        pytest.skip("FIDES_OAUTH_TEST_REDIS_URL is set to empty: no Redis tests")
    import redis

    client = redis.Redis.from_url(TEST_REDIS_URL, socket_connect_timeout=5)
    try:
        client.flushdb()
    except redis.RedisError as exc:
        pytest.fail(f"Redis is unreachable at {TEST_REDIS_URL} ({exc}).")
    yield TEST_REDIS_URL
    client.flushdb()
    client.close()


def _silently_delete(url: str, client_id: str) -> None:
    """Delete a client and raise the counter the way the library does, but
    without its notice: a change whose notice is lost."""
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            connection.execute(
                OAuthClient.__table__.delete().where(OAuthClient.id == client_id)
            )
            connection.execute(
                update(ChangeCounter)
                .where(ChangeCounter.id == 1)
                .values(counter=ChangeCounter.counter + 1)
            )
    finally:
        engine.dispose()


def _announce_from_elsewhere(url: str, storage: str | None) -> None:
    """Raise the counter as another host would, notice included."""
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            connection.execute(
                update(ChangeCounter)
                .where(ChangeCounter.id == 1)
                .values(counter=ChangeCounter.counter + 1)
            )
            if engine.dialect.name == "postgresql":
                connection.execute(text(f"NOTIFY {CHANNEL}"))
    finally:
        engine.dispose()
    if storage:
        import redis

        with redis.Redis.from_url(storage) as client:
            client.publish(CHANNEL, b"1")


def _push_app(
    make_app: Callable[..., Flask], staleness_ms: int, storage: str | None
) -> OAuth:
    app = make_app(
        FIDES_OAUTH_INVALIDATION="push",
        FIDES_OAUTH_MAX_STALENESS_MS=staleness_ms,
        FIDES_OAUTH_STORAGE_URI=storage,
    )
    return OAuth(app, app.test_client())


def test_a_change_through_this_process_is_honoured_on_its_next_request(
    make_app: Callable[..., Flask], feed_storage: str | None
) -> None:
    oauth = _push_app(make_app, 600_000, feed_storage)
    client_id, _, headers = oauth.client_with(["policy:read", "rule:read"])
    assert oauth.http.get("/api/v1/policy", headers=headers).status_code == 200
    watch = oauth.app.extensions["fides_oauth"].core.changes
    _eventually(lambda: watch.listening)
    cut = oauth.http.put(
        f"/api/v1/oauth/client/{client_id}/scope",
        json=["rule:read"],
        headers=oauth.root_headers(),
    )
    assert cut.status_code == 200
    assert oauth.http.get("/api/v1/policy", headers=headers).status_code == 403


def test_a_change_from_another_host_arrives_by_notice(
    make_app: Callable[..., Flask], feed_storage: str | None
) -> None:
    oauth = _push_app(make_app, 600_000, feed_storage)  # not the safety net
    watch = oauth.app.extensions["fides_oauth"].core.changes
    with oauth.app.app_context():
        before = watch.current()
    _eventually(lambda: watch.listening)
    _announce_from_elsewhere(oauth.app.config["SQLALCHEMY_DATABASE_URI"], feed_storage)
    with oauth.app.app_context():
        _eventually(lambda: watch.current() == before + 1)


def test_a_lost_notice_is_caught_by_the_safety_net(
    make_app: Callable[..., Flask], feed_storage: str | None
) -> None:
    oauth = _push_app(make_app, 300, feed_storage)
    client_id, _, headers = oauth.client_with(["policy:read"])
    assert oauth.http.get("/api/v1/policy", headers=headers).status_code == 200
    _silently_delete(oauth.app.config["SQLALCHEMY_DATABASE_URI"], client_id)
    deleted_at = time.monotonic()
    while True:
        sent = time.monotonic() - deleted_at
        status = oauth.http.get("/api/v1/policy", headers=headers).status_code
        if status != 200:
            break
        assert sent < 0.3, "passed after MAX_STALENESS_MS"
    assert status == 401


# -- a real multi-worker server: the bound, measured --------------------------

WORKERS = 3
#: The bound the server runs with: long enough that a refusal well within
#: it can only come from a notice, short enough to test the safety net.
STALENESS_MS = 4000


class Hammer:
    """Requests from 8 threads, each answer kept with when it was sent."""

    def __init__(self, url: str, headers: dict[str, str]) -> None:
        self.url = url
        self.headers = {"Connection": "close", **headers}
        self.answers: list[tuple[float, int]] = []
        self._stop = threading.Event()

    def _one(self) -> None:
        while not self._stop.is_set():
            sent = time.monotonic()
            status = requests.get(
                self.url, headers=self.headers, timeout=20
            ).status_code
            self.answers.append((sent, status))

    def run(self, seconds: float) -> list[tuple[float, int]]:
        with ThreadPoolExecutor(8) as pool:
            futures = [pool.submit(self._one) for _ in range(8)]
            time.sleep(seconds)
            self._stop.set()
            for future in futures:
                future.result()
        return self.answers


@pytest.fixture(params=["", "--preload"])
def preload(request: pytest.FixtureRequest) -> tuple[str, ...]:
    """Workers that build the app themselves, or forked from a master that
    built it (``--preload``): the listener must start in each worker."""
    return (request.param,) if request.param else ()


@pytest.fixture
def push_server(
    make_app: Callable[..., Flask],
    tmp_path: Path,
    feed_storage: str | None,
    preload: tuple[str, ...],
) -> Iterator[tuple[OAuth, str]]:
    from tests.servers import free_port
    from tests.servers import gunicorn
    from tests.servers import worker_env

    app = make_app()  # the tables (dropped afterwards)
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    port = free_port()
    env = worker_env(
        url,
        f"http://127.0.0.1:{port}/api/v1",
        feed_storage,
        FIDES_OAUTH_INVALIDATION="push",
        FIDES_OAUTH_MAX_STALENESS_MS=str(STALENESS_MS),
    )
    with gunicorn(
        "tests.wsgi_workers:app",
        tmp_path / "gunicorn.log",
        workers=WORKERS,
        env=env,
        port=port,
        options=preload,
    ) as server:
        yield OAuth(app, app.test_client()), server.api
        log = server.log()
    assert "Traceback" not in log, log
    assert "Change notices interrupted" not in log, log


def _warm_token(api: str) -> tuple[str, str, dict[str, str]]:
    """A client and a token that every worker has verified."""
    root = requests.post(
        api + "/oauth/token",
        data={"client_id": ROOT_ID, "client_secret": ROOT_SECRET},
        timeout=20,
    ).json()["access_token"]
    created = requests.post(
        api + "/oauth/client",
        json=["policy:read"],
        headers=bearer(root),
        timeout=20,
    ).json()
    token = requests.post(
        api + "/oauth/token",
        data={
            "client_id": created["client_id"],
            "client_secret": created["client_secret"],
        },
        timeout=20,
    ).json()["access_token"]
    headers = bearer(token)
    pids: set[str] = set()
    for _ in range(200):
        answer = requests.get(
            api + "/policy", headers={"Connection": "close", **headers}, timeout=20
        )
        assert answer.status_code == 200
        pids.add(answer.headers["X-Worker-Pid"])
        if len(pids) == WORKERS:
            break
    assert len(pids) == WORKERS, "not every worker verified the token"
    return created["client_id"], created["client_secret"], headers


def test_on_a_real_server_a_revocation_reaches_every_worker_by_notice(
    push_server: tuple[OAuth, str],
) -> None:
    _, api = push_server
    client_id, secret, headers = _warm_token(api)
    hammer = Hammer(api + "/policy", headers)
    started = threading.Thread(target=hammer.run, args=(2.0,))
    started.start()
    time.sleep(0.5)
    revoked = requests.post(
        api + "/oauth/revoke",
        data={"token": headers["Authorization"].split()[1]},
        auth=(client_id, secret),
        timeout=20,
    )
    revoked_at = time.monotonic()
    assert revoked.status_code == 200
    started.join()
    after = [status for sent, status in hammer.answers if sent >= revoked_at + 0.5]
    assert after, "no request was sent after the revocation"
    # Well within MAX_STALENESS (4 s): the notices did it.
    assert set(after) == {401}, after


@pytest.mark.parametrize("preload", [()], indirect=False)
def test_on_a_real_server_a_lost_notice_lets_a_token_pass_for_the_bound_at_most(
    push_server: tuple[OAuth, str],
) -> None:
    oauth, api = push_server
    client_id, _, headers = _warm_token(api)
    hammer = Hammer(api + "/policy", headers)
    started = threading.Thread(target=hammer.run, args=(STALENESS_MS / 1000 + 1.5,))
    started.start()
    time.sleep(0.3)
    _silently_delete(oauth.app.config["SQLALCHEMY_DATABASE_URI"], client_id)
    deleted_at = time.monotonic()
    started.join()
    late = [
        (round(sent - deleted_at, 3), status)
        for sent, status in hammer.answers
        if sent >= deleted_at + STALENESS_MS / 1000
    ]
    assert late, "no request was sent after the bound"
    assert {status for _, status in late} == {401}, late
    # And the bound is what stopped it: with the notice lost, the deleted
    # client's token went on passing for a while.
    passed = [sent - deleted_at for sent, status in hammer.answers if status == 200]
    assert max(passed) > 0.05, "the token never passed after the deletion"
