"""Secret rotation: at once, or with a grace period; with token revocation."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from tests.conftest import FakeClock
from tests.conftest import OAuth

TOKEN = "/api/v1/oauth/token"


def _rotate(oauth: OAuth, client_id: str, body: Any = None, **kwargs: Any) -> Any:
    if body is not None:
        kwargs["json"] = body
    return oauth.http.post(
        f"/api/v1/oauth/client/{client_id}/secret",
        headers=oauth.root_headers(),
        **kwargs,
    )


def _status(oauth: OAuth, client_id: str, secret: str) -> int:
    return oauth.http.post(
        TOKEN, data={"client_id": client_id, "client_secret": secret}
    ).status_code


@pytest.fixture
def app(make_app: Any, clock: FakeClock) -> Any:
    """Apps whose clock the tests move (``clock.advance``)."""
    return make_app(clock=clock)


def test_rotation_without_body_stops_the_old_secret_at_once(oauth: OAuth) -> None:
    created = oauth.create_client(["rule:read"])
    response = _rotate(oauth, created["client_id"])
    assert response.status_code == 200
    body = response.get_json()
    assert body["previous_secret_valid_until"] is None
    assert _status(oauth, created["client_id"], created["client_secret"]) == 401
    assert _status(oauth, created["client_id"], body["client_secret"]) == 200


def test_grace_period_keeps_the_old_secret_until_it_ends(
    oauth: OAuth, clock: FakeClock
) -> None:
    created = oauth.create_client(["rule:read"])
    response = _rotate(oauth, created["client_id"], {"grace_seconds": 300})
    assert response.status_code == 200
    body = response.get_json()
    until = datetime.fromisoformat(body["previous_secret_valid_until"])
    assert until.timestamp() == pytest.approx(clock.now + 300, abs=1e-3)
    old, new = created["client_secret"], body["client_secret"]
    assert _status(oauth, created["client_id"], old) == 200
    assert _status(oauth, created["client_id"], new) == 200
    clock.advance(301)
    assert _status(oauth, created["client_id"], old) == 401
    assert _status(oauth, created["client_id"], new) == 200


def test_rotating_again_ends_the_older_grace(oauth: OAuth, clock: FakeClock) -> None:
    created = oauth.create_client(["rule:read"])
    first = _rotate(oauth, created["client_id"], {"grace_seconds": 600}).get_json()
    second = _rotate(oauth, created["client_id"], {"grace_seconds": 600}).get_json()
    assert _status(oauth, created["client_id"], created["client_secret"]) == 401
    assert _status(oauth, created["client_id"], first["client_secret"]) == 200
    assert _status(oauth, created["client_id"], second["client_secret"]) == 200
    third = _rotate(oauth, created["client_id"]).get_json()  # no grace: only the newest
    assert _status(oauth, created["client_id"], second["client_secret"]) == 401
    assert _status(oauth, created["client_id"], third["client_secret"]) == 200


@pytest.mark.parametrize(
    "body",
    [
        {"grace_seconds": 86401},
        {"grace_seconds": -1},
        {"grace_seconds": "60"},
        {"grace_seconds": 1.5},
        {"grace_seconds": True},
        {"revoke_tokens": "yes"},
        {"grace": 60},
        [60],
    ],
)
def test_bad_rotation_bodies_are_422_and_change_nothing(
    oauth: OAuth, body: Any
) -> None:
    created = oauth.create_client(["rule:read"])
    before = oauth.snapshot()
    response = _rotate(oauth, created["client_id"], body)
    assert response.status_code == 422
    assert response.get_json()["error"] == "invalid_request"
    assert oauth.snapshot() == before
    assert _status(oauth, created["client_id"], created["client_secret"]) == 200


def test_grace_bound_follows_configuration(make_app: Any) -> None:
    app = make_app(FIDES_OAUTH_MAX_ROTATION_GRACE_SECONDS=60)
    oauth = OAuth(app, app.test_client())
    created = oauth.create_client(["rule:read"])
    assert (
        _rotate(oauth, created["client_id"], {"grace_seconds": 61}).status_code == 422
    )
    assert (
        _rotate(oauth, created["client_id"], {"grace_seconds": 60}).status_code == 200
    )


def test_non_json_rotation_body_is_refused(oauth: OAuth) -> None:
    created = oauth.create_client(["rule:read"])
    response = _rotate(
        oauth, created["client_id"], data="grace=5", content_type="text/plain"
    )
    assert response.status_code == 415
    assert _status(oauth, created["client_id"], created["client_secret"]) == 200
