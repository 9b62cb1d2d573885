"""Bounded growth: what is stored per revocation or failure is pruned."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func
from sqlalchemy import select

from fides_oauth import prune
from fides_oauth.models import AuthFailure
from fides_oauth.models import RevokedToken
from tests.conftest import FakeClock
from tests.conftest import OAuth
from tests.conftest import basic


def _rows(app: Any, model: Any) -> int:
    from examples.host_app import db

    with app.app_context():
        count = db.session.scalar(select(func.count()).select_from(model))
        db.session.remove()
    return int(count or 0)


@pytest.fixture
def app(make_app: Any, clock: FakeClock) -> Any:
    """Apps whose clock the tests move (``clock.advance``)."""
    return make_app(clock=clock)


def test_revocations_stay_at_a_steady_size_over_many_cycles(
    make_app: Any, clock: FakeClock
) -> None:
    app = make_app(clock=clock, FIDES_OAUTH_ACCESS_TOKEN_EXPIRE_MINUTES=1)
    oauth = OAuth(app, app.test_client())
    client_id, secret, _ = oauth.client_with([])
    sizes = []
    for _cycle in range(10):
        for _ in range(5):  # issue and revoke five tokens
            token = oauth.token(client_id, secret)
            response = oauth.http.post(
                "/api/v1/oauth/revoke",
                data={"token": token},
                headers=basic(client_id, secret),
            )
            assert response.status_code == 200
        sizes.append(_rows(app, RevokedToken))
        clock.advance(61)  # those tokens expire
    # Each revocation prunes the entries of expired tokens: the table holds
    # at most one lifetime's worth, however long the app runs.
    assert max(sizes) <= 5
    assert sizes[-1] == 5


def test_failure_counts_are_pruned(make_app: Any, clock: FakeClock) -> None:
    app = make_app(
        clock=clock,
        FIDES_OAUTH_AUTH_FAILURE_WINDOW_SECONDS=60,
        FIDES_OAUTH_AUTH_FAILURE_LIMIT=1000,
    )
    http = app.test_client()
    for index in range(30):
        http.post(
            "/api/v1/oauth/token",
            data={"client_id": f"{index:032x}", "client_secret": "guess"},
        )
    assert _rows(app, AuthFailure) == 31  # 30 ids and one address
    clock.advance(61)
    assert prune(app) == {"revoked_tokens": 0, "auth_failures": 31, "audit_events": 0}
    assert _rows(app, AuthFailure) == 0


def test_failure_counts_prune_themselves_as_they_go(
    make_app: Any, clock: FakeClock
) -> None:
    app = make_app(
        clock=clock,
        FIDES_OAUTH_AUTH_FAILURE_WINDOW_SECONDS=60,
        FIDES_OAUTH_AUTH_FAILURE_LIMIT=10**6,
    )
    http = app.test_client()
    sizes = []
    for cycle in range(6):
        for index in range(40):
            http.post(
                "/api/v1/oauth/token",
                data={
                    "client_id": f"{cycle:04x}{index:028x}",
                    "client_secret": "guess",
                },
            )
        sizes.append(_rows(app, AuthFailure))
        clock.advance(61)
    # Without pruning this would reach 6 * 40 ids; with it, it stays near
    # what one window holds.
    assert max(sizes) < 2 * 41 + 1


def test_prune_command(app: Any) -> None:
    result = app.test_cli_runner().invoke(args=["fides-oauth", "prune"])
    assert result.exit_code == 0
    assert "Deleted 0 revoked-token entries" in result.output
    assert "0 audit events" in result.output
