"""The persisted audit trail and its admin page: which events are kept, that a
change and its record commit together, the page's filter and paging, and
admin refusals rendered as pages (with their headers)."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from sqlalchemy import text

from examples.host_app import db
from fides_oauth.audit_trail import PERSISTED
from fides_oauth.audit_trail import AuditEntry
from tests.conftest import ADMIN
from tests.conftest import ROOT_ID
from tests.conftest import ROOT_SECRET
from tests.conftest import AdminBrowser
from tests.conftest import OAuth
from tests.conftest import basic
from tests.conftest import bearer


def _events(app: Flask, client_id: str | None = None) -> list[AuditEntry]:
    with app.app_context():
        trail = app.extensions["fides_oauth"].core.trail
        return list(trail.recent(client_id=client_id, limit=1000))


def test_management_changes_are_kept_with_actor_target_and_scopes(
    admin_app: Flask, admin_oauth: OAuth
) -> None:
    manager, _, headers = admin_oauth.client_with(
        ["client:create", "client:update", "client:delete", "policy:read"]
    )
    created = admin_oauth.create_client(["policy:read"], headers=headers)
    target = created["client_id"]
    api = admin_oauth.url(f"/oauth/client/{target}")
    assert (
        admin_oauth.http.put(api, json={"scopes": []}, headers=headers).status_code
        == 200
    )
    assert admin_oauth.http.delete(api, headers=headers).status_code == 204

    kept = [(e.event, e.actor, e.target, e.scopes) for e in _events(admin_app, target)]
    assert kept == [  # newest first
        ("client_deleted", manager, target, ()),
        ("client_updated", manager, target, ()),
        ("client_created", manager, target, ("policy:read",)),
    ]
    assert all(e.outcome == "success" for e in _events(admin_app, target))


def test_the_token_endpoint_writes_no_audit_row(
    admin_app: Flask, admin_oauth: OAuth
) -> None:
    """Grants and failed authentications are logged, never kept: the hot path
    and unauthenticated callers must not grow a table."""
    client_id, secret, _ = admin_oauth.client_with(["policy:read"])
    before = _events(admin_app)
    for _ in range(3):
        admin_oauth.token(client_id, secret)
    refused = admin_oauth.http.post(
        admin_oauth.url("/oauth/token"),
        data={"grant_type": "client_credentials"},
        headers=basic(client_id, "wrong"),
    )
    assert refused.status_code == 401
    assert _events(admin_app) == before
    assert "token_issued" not in PERSISTED
    assert "authentication_failed" not in PERSISTED


def test_a_refused_change_keeps_no_record(admin_app: Flask, admin_oauth: OAuth) -> None:
    _, _, headers = admin_oauth.client_with(["client:update", "rule:read"])
    strong = admin_oauth.create_client(["policy:read"])["client_id"]
    before = _events(admin_app)
    refused = admin_oauth.http.put(
        admin_oauth.url(f"/oauth/client/{strong}"), json={"scopes": []}, headers=headers
    )
    assert refused.status_code == 403
    assert _events(admin_app) == before


def _drop_the_trail(app: Flask) -> None:
    """Make every audit write fail, as a broken table would."""
    with app.app_context():
        db.session.execute(text("DROP TABLE fides_oauth_audit_events"))
        db.session.commit()


def _kids(app: Flask) -> list[str]:
    with app.app_context():
        keys = app.extensions["fides_oauth"].core.keys
        return [key["kid"] for key in keys.public_jwks()["keys"]]


def test_a_change_whose_record_fails_is_not_made(
    admin_app: Flask, admin_oauth: OAuth, admin_root: AdminBrowser
) -> None:
    """The record is written in the change's own transaction: when it cannot
    be kept, the change is rolled back and the answer is a 503 (JSON for the
    API, a page for the admin page). Each kind of writer is tried: the
    management use cases, a token revocation, a signing-key rotation and
    an admin sign-in."""
    headers = admin_oauth.root_headers()
    client_id, secret, _ = admin_oauth.client_with(["policy:read"])
    token = admin_oauth.token(client_id, secret)
    rows, kids = admin_oauth.snapshot(), _kids(admin_app)
    _drop_the_trail(admin_app)

    api = admin_oauth.http.post(
        admin_oauth.url("/oauth/client"), json=["policy:read"], headers=headers
    )
    assert api.status_code == 503
    assert api.mimetype == "application/json"
    page = admin_root.post("/clients/new", name="etl", scope=["policy:read"])
    assert page.status_code == 503
    assert page.mimetype == "text/html"
    assert "retry later" in page.get_data(as_text=True)
    assert admin_oauth.snapshot() == rows

    revoked = admin_oauth.http.post(
        admin_oauth.url("/oauth/revoke"),
        data={"token": token},
        headers=basic(client_id, secret),
    )
    assert revoked.status_code == 503
    still = admin_oauth.http.get(
        admin_oauth.url("/oauth/client/" + client_id), headers=bearer(token)
    )
    assert still.status_code != 401  # the token was not revoked

    assert admin_root.post("/keys").status_code == 503
    assert _kids(admin_app) == kids  # no key was added

    other = AdminBrowser(admin_app.test_client())
    assert other.sign_in(ROOT_ID, ROOT_SECRET).status_code == 503
    assert other.http.get(ADMIN + "/clients").status_code == 302  # no session


def test_a_token_revoked_twice_is_recorded_once(
    admin_app: Flask, admin_oauth: OAuth
) -> None:
    """RFC 7009 §2.2 answers 200 for a token already revoked; nothing changes,
    so nothing more is recorded (else one token could grow the table)."""
    client_id, secret, _ = admin_oauth.client_with(["policy:read"])
    token = admin_oauth.token(client_id, secret)
    for _ in range(5):
        response = admin_oauth.http.post(
            admin_oauth.url("/oauth/revoke"),
            data={"token": token},
            headers=basic(client_id, secret),
        )
        assert response.status_code == 200
    revoked = [e for e in _events(admin_app, client_id) if e.event == "token_revoked"]
    assert len(revoked) == 1
    assert revoked[0].actor == client_id
    assert revoked[0].scopes == ("policy:read",)


def test_key_rotations_from_the_cli_and_python_are_kept(admin_app: Flask) -> None:
    from fides_oauth import rotate_signing_key

    result = admin_app.test_cli_runner().invoke(
        args=["fides-oauth", "rotate-signing-key"]
    )
    assert result.exit_code == 0, result.output
    kid = rotate_signing_key(admin_app, actor="deploy-job")
    kept = [
        (e.actor, e.target)
        for e in _events(admin_app)
        if e.event == "signing_key_rotated"
    ]
    assert kept[0] == ("deploy-job", kid)
    assert kept[1][0] == "cli"


def test_sign_in_out_and_key_rotation_are_kept(
    admin_app: Flask, admin_root: AdminBrowser
) -> None:
    assert admin_root.post("/keys").status_code == 200
    admin_root.post("/sign-out")
    events = [e.event for e in _events(admin_app, ROOT_ID)]
    assert events[:3] == ["admin_signed_out", "signing_key_rotated", "admin_signed_in"]


def test_the_audit_page_lists_and_filters_by_client(
    admin_app: Flask, admin_oauth: OAuth, admin_root: AdminBrowser
) -> None:
    first = admin_oauth.create_client(["policy:read"], name="first")["client_id"]
    second = admin_oauth.create_client(["rule:read"], name="second")["client_id"]
    page = admin_root.http.get(ADMIN + "/audit").get_data(as_text=True)
    assert "Audit trail" in page
    assert first in page and second in page
    assert "client created" in page

    only = admin_root.http.get(ADMIN + "/audit", query_string={"client": first})
    assert only.status_code == 200
    body = only.get_data(as_text=True)
    assert first in body
    assert second not in body
    assert only.headers["Cache-Control"] == "no-store"

    # The client's page links to its own trail.
    client_page = admin_root.http.get(ADMIN + f"/clients/{first}").get_data(
        as_text=True
    )
    assert f"/audit?client={first}" in client_page


def test_the_audit_page_pages_back_through_older_events(
    admin_app: Flask, admin_oauth: OAuth, admin_root: AdminBrowser
) -> None:
    target = admin_oauth.create_client(["policy:read"])["client_id"]
    headers = admin_oauth.root_headers()
    for _ in range(55):  # more than a page
        admin_oauth.http.post(
            admin_oauth.url(f"/oauth/client/{target}/revoke-tokens"), headers=headers
        )
    kept = _events(admin_app, target)
    assert len(kept) >= 56
    first = admin_root.http.get(ADMIN + "/audit", query_string={"client": target})
    body = first.get_data(as_text=True)
    assert "Older events" in body
    assert body.count("<tr>") == 1 + 50  # the header row and a full page
    older = admin_root.http.get(
        ADMIN + "/audit", query_string={"client": target, "before": kept[49].id}
    )
    rest = older.get_data(as_text=True)
    assert rest.count("<tr>") == 1 + len(kept) - 50
    assert "Older events" not in rest


@pytest.mark.parametrize(
    "before", ["-1", "x", "9" * 40, "1" * 5000, "0", "18446744073709551616"]
)
def test_odd_paging_values_are_no_error(admin_root: AdminBrowser, before: str) -> None:
    response = admin_root.http.get(ADMIN + "/audit", query_string={"before": before})
    assert response.status_code == 200


def test_the_audit_page_needs_a_session_and_client_read(
    admin_app: Flask, admin_oauth: OAuth
) -> None:
    anonymous = admin_app.test_client().get(ADMIN + "/audit")
    assert anonymous.status_code == 302
    target = admin_oauth.create_client(["policy:read"])["client_id"]
    weak = admin_oauth.create_client(["policy:read"])
    browser = AdminBrowser(admin_app.test_client())
    assert browser.sign_in(weak["client_id"], weak["client_secret"]).status_code == 302
    page = browser.http.get(ADMIN + "/audit").get_data(as_text=True)
    assert "does not hold <code>client:read</code>" in page
    assert target not in page


def test_old_events_are_pruned_after_the_retention(make_app: Any, clock: Any) -> None:
    app = make_app(clock=clock, FIDES_OAUTH_AUDIT_RETENTION_DAYS=1)
    oauth = OAuth(app, app.test_client())
    oauth.create_client(["policy:read"])
    clock.advance(86400 + 1)
    kept = oauth.create_client(["rule:read"])["client_id"]
    with app.app_context():
        pruned = app.extensions["fides_oauth"].core.prune()
    assert pruned["audit_events"] == 1
    assert [e.target for e in _events(app)] == [kept]


def test_a_limited_sign_in_is_a_page_with_retry_after(make_app: Any) -> None:
    """Inside the admin page a refusal is a page (CONTRACT §9), and keeps
    what the API's refusal carries: Retry-After on a 429 (RFC 6585 §4: "MAY
    include a Retry-After header indicating how long to wait")."""
    app = make_app(FIDES_OAUTH_ADMIN=True, FIDES_OAUTH_AUTH_FAILURE_LIMIT=1)
    browser = AdminBrowser(app.test_client())
    browser.sign_in(ROOT_ID, "wrong")
    limited = browser.sign_in(ROOT_ID, "wrong")
    assert limited.status_code == 429
    assert limited.mimetype == "text/html"
    assert int(limited.headers["Retry-After"]) > 0
    assert "retry in" in limited.get_data(as_text=True)
    assert limited.headers["Content-Security-Policy"]


def test_an_oversized_admin_form_is_a_page_and_the_api_stays_json(
    make_app: Any,
) -> None:
    app = make_app(FIDES_OAUTH_ADMIN=True, FIDES_OAUTH_MAX_BODY_BYTES=1024)
    oauth = OAuth(app, app.test_client())
    browser = AdminBrowser(app.test_client())
    assert browser.sign_in(ROOT_ID, ROOT_SECRET).status_code == 302
    too_big = browser.post("/sign-out", padding="x" * 4096)
    assert too_big.status_code == 413
    assert too_big.mimetype == "text/html"
    assert too_big.headers["Content-Security-Policy"]
    api = oauth.http.post(oauth.url("/oauth/token"), data={"padding": "x" * 4096})
    assert api.status_code == 413
    assert api.mimetype == "application/json"


@pytest.mark.parametrize("param", ["client", "q"])
@pytest.mark.parametrize("value", ["a\x00b", "\x7f", "a\x85b", "a\x1bb"])
def test_control_characters_in_a_filter_are_a_400_page(
    admin_root: AdminBrowser, param: str, value: str
) -> None:
    """PostgreSQL refuses NUL in text: it must never reach a query (a 503
    and an outage log line for bad input)."""
    path = "/audit" if param == "client" else "/clients"
    response = admin_root.http.get(ADMIN + path, query_string={param: value})
    assert response.status_code == 400
    assert response.mimetype == "text/html"


def test_wrong_methods_and_paths_under_the_page_are_pages(
    admin_root: AdminBrowser, app: Flask
) -> None:
    wrong = admin_root.http.post(ADMIN + "/audit")
    assert wrong.status_code == 405
    assert wrong.mimetype == "text/html"
    assert wrong.headers["Allow"] == "GET"
    assert admin_root.http.delete(ADMIN + "/clients").status_code == 405
    missing = admin_root.http.get(ADMIN + "/nope")
    assert missing.status_code == 404
    assert missing.mimetype == "text/html"
    # The page off: still 404 for every path and method, as the API answers.
    off = app.test_client()
    for method in ("get", "post", "delete"):
        response = getattr(off, method)(ADMIN + "/audit")
        assert response.status_code == 404
        assert response.mimetype == "application/json"
