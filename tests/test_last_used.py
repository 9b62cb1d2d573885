"""When a client was last used: a coarse mark, written at most about once a
minute per client, that changes nothing else about the client."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tests.conftest import FakeClock
from tests.conftest import OAuth
from tests.conftest import basic


def _client(oauth: OAuth, client_id: str) -> dict[str, Any]:
    response = oauth.http.get(
        f"/api/v1/oauth/client/{client_id}", headers=oauth.root_headers()
    )
    assert response.status_code == 200
    return dict(response.get_json())


def _token(oauth: OAuth, created: dict[str, Any]) -> None:
    response = oauth.http.post(
        "/api/v1/oauth/token",
        headers=basic(created["client_id"], created["client_secret"]),
    )
    assert response.status_code == 200


def _at(stamp: str) -> float:
    return datetime.fromisoformat(stamp).timestamp()


def test_a_token_request_marks_the_client_used(make_app: Any, clock: FakeClock) -> None:
    app = make_app(clock=clock)
    oauth = OAuth(app, app.test_client())
    created = oauth.create_client(["policy:read"])
    assert _client(oauth, created["client_id"])["last_used_at"] is None

    _token(oauth, created)
    first = _client(oauth, created["client_id"])
    assert abs(_at(first["last_used_at"]) - clock()) < 1

    # Within the minute: no new mark.
    clock.advance(30)
    _token(oauth, created)
    assert _client(oauth, created["client_id"]) == first

    # After it: a new one; the client is otherwise unchanged.
    clock.advance(31)
    _token(oauth, created)
    later = _client(oauth, created["client_id"])
    assert abs(_at(later["last_used_at"]) - clock()) < 1
    assert {k: v for k, v in later.items() if k != "last_used_at"} == {
        k: v for k, v in first.items() if k != "last_used_at"
    }


def test_another_worker_does_not_write_the_mark_again(
    make_app: Any, clock: FakeClock
) -> None:
    """Two app instances on one database: the second finds a fresh mark
    and its conditional write changes nothing."""
    first, second = make_app(clock=clock), make_app(clock=clock)
    one, two = OAuth(first, first.test_client()), OAuth(second, second.test_client())
    created = one.create_client(["policy:read"])
    _token(one, created)
    marked = _client(one, created["client_id"])["last_used_at"]
    clock.advance(10)
    _token(two, created)
    assert _client(one, created["client_id"])["last_used_at"] == marked


def test_the_mark_never_conflicts_with_a_change(
    make_app: Any, clock: FakeClock
) -> None:
    """The mark does not move the row's version or the change counter: a
    management change and verified tokens are untouched by it."""
    app = make_app(clock=clock)
    oauth = OAuth(app, app.test_client())
    created = oauth.create_client(["policy:read"])
    state = app.extensions["fides_oauth"]
    with app.app_context():
        counter = state.core.store.counter()
    _token(oauth, created)
    with app.app_context():
        assert state.core.store.counter() == counter
    response = oauth.http.put(
        f"/api/v1/oauth/client/{created['client_id']}",
        json={"name": "renamed"},
        headers=oauth.root_headers(),
    )
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["last_used_at"] is not None
