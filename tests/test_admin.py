"""The admin page (CONTRACT §9) through Flask's test client: sign-in and the
session, CSRF, the security headers, each action and each refusal."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from flask import Flask

from tests.conftest import ADMIN
from tests.conftest import ROOT_ID
from tests.conftest import ROOT_SECRET
from tests.conftest import AdminBrowser
from tests.conftest import OAuth
from tests.conftest import admin_csrf


def test_off_by_default_every_path_is_404(app: Flask) -> None:
    http = app.test_client()
    for path in ("/", "/clients", "/clients/new", "/static/admin.css", "/x"):
        assert http.get(ADMIN + path).status_code == 404, path
    assert http.post(ADMIN + "/sign-in").status_code == 404


def test_pages_carry_the_security_headers(admin_app: Flask) -> None:
    response = admin_app.test_client().get(ADMIN + "/")
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    csp = response.headers["Content-Security-Policy"]
    assert "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Cache-Control"] == "no-store"
    page = response.get_data(as_text=True)
    assert "<script>" not in page  # no inline script
    for name in ("Client ID", "Client secret", "Sign in"):
        assert name in page


def test_sign_in_sets_a_cookie_with_no_secret(
    admin_app: Flask, admin_oauth: OAuth
) -> None:
    created = admin_oauth.create_client(["client:read"])
    browser = AdminBrowser(admin_app.test_client())
    response = browser.sign_in(created["client_id"], created["client_secret"])
    assert response.status_code == 302
    cookie = next(
        c
        for c in response.headers.getlist("Set-Cookie")
        if c.startswith("fides_oauth_admin=")
    )
    assert "HttpOnly" in cookie
    assert "SameSite=Strict" in cookie
    assert created["client_secret"] not in cookie


def test_a_wrong_secret_or_a_missing_csrf_token_is_refused(
    admin_app: Flask, admin_oauth: OAuth
) -> None:
    created = admin_oauth.create_client(["client:read"])
    browser = AdminBrowser(admin_app.test_client())
    assert browser.sign_in(created["client_id"], "wrong").status_code == 401
    refused = browser.http.post(
        ADMIN + "/sign-in",
        data={
            "client_id": created["client_id"],
            "client_secret": created["client_secret"],
        },
    )
    assert refused.status_code == 400


def test_sign_in_goes_through_the_failure_limits(make_app: Any) -> None:
    app = make_app(FIDES_OAUTH_ADMIN=True, FIDES_OAUTH_AUTH_FAILURE_LIMIT=2)
    oauth = OAuth(app, app.test_client())
    created = oauth.create_client(["client:read"])
    browser = AdminBrowser(app.test_client())
    statuses = [
        browser.sign_in(created["client_id"], "wrong").status_code for _ in range(3)
    ]
    assert statuses == [401, 401, 429]


def test_create_shows_the_secret_once_and_it_works(
    admin_root: AdminBrowser, admin_oauth: OAuth
) -> None:
    page = admin_root.http.get(ADMIN + "/clients/new").get_data(as_text=True)
    for name in ("Name", "Description", "policy:read", "Create client"):
        assert name in page
    response = admin_root.post("/clients/new", name="etl", scope=["policy:read"])
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    text = response.get_data(as_text=True)
    assert "will not be shown again" in text
    client_id = re.search(r"Client ID: <code>([0-9a-f]+)</code>", text)
    secret = re.search(r'id="secret" readonly value="([^"]+)"', text)
    assert client_id and secret
    token = admin_oauth.token(client_id.group(1), secret.group(1))
    assert (
        admin_oauth.http.get(
            "/api/v1/policy", headers={"Authorization": f"Bearer {token}"}
        ).status_code
        == 200
    )
    # The client's page never shows the secret again.
    detail = admin_root.http.get(ADMIN + f"/clients/{client_id.group(1)}")
    assert secret.group(1) not in detail.get_data(as_text=True)


def test_without_a_csrf_token_nothing_changes(
    admin_root: AdminBrowser, admin_oauth: OAuth
) -> None:
    before = admin_oauth.snapshot()
    response = admin_root.http.post(ADMIN + "/clients/new", data={"name": "x"})
    assert response.status_code == 400
    assert admin_oauth.snapshot() == before


def test_a_weaker_client_cannot_escalate(admin_app: Flask, admin_oauth: OAuth) -> None:
    created = admin_oauth.create_client(["client:create", "client:read", "policy:read"])
    browser = AdminBrowser(admin_app.test_client())
    browser.sign_in(created["client_id"], created["client_secret"])
    before = admin_oauth.snapshot()
    response = browser.post("/clients/new", name="evil", scope=["client:delete"])
    assert response.status_code == 403
    assert admin_oauth.snapshot() == before


def test_a_client_without_read_sees_no_client(
    admin_app: Flask, admin_oauth: OAuth
) -> None:
    created = admin_oauth.create_client(["policy:read"])
    other = admin_oauth.create_client(["policy:read"], name="secret-project")
    browser = AdminBrowser(admin_app.test_client())
    browser.sign_in(created["client_id"], created["client_secret"])
    page = browser.http.get(ADMIN + "/clients").get_data(as_text=True)
    assert other["client_id"] not in page
    assert "secret-project" not in page
    assert browser.http.get(ADMIN + f"/clients/{other['client_id']}").status_code == 403


def test_edit_rotate_revoke_delete(
    admin_root: AdminBrowser, admin_oauth: OAuth
) -> None:
    created = admin_oauth.create_client(["policy:read"], name="etl")
    client_id = created["client_id"]
    path = f"/clients/{client_id}"
    page = admin_root.http.get(ADMIN + path).get_data(as_text=True)
    for name in (
        "Save",
        "Rotate secret",
        "Grace period (seconds)",
        "Revoke tokens",
        "Delete client",
    ):
        assert name in page

    saved = admin_root.post(path, action="save", name="etl-2", scope=["rule:read"])
    assert saved.status_code == 200
    assert admin_oauth.http.get(
        f"/api/v1/oauth/client/{client_id}", headers=admin_oauth.root_headers()
    ).get_json()["scopes"] == ["rule:read"]

    token = admin_oauth.token(client_id, created["client_secret"])
    rotated = admin_root.post(path, action="rotate", grace_seconds="600")
    assert rotated.status_code == 200
    assert "keeps working until" in rotated.get_data(as_text=True)
    assert admin_oauth.token(client_id, created["client_secret"])  # in its grace

    assert admin_root.post(path, action="revoke").status_code == 200
    revoked = admin_oauth.http.get(
        "/api/v1/rule", headers={"Authorization": f"Bearer {token}"}
    )
    assert revoked.status_code == 401

    unconfirmed = admin_root.post(path, action="delete")
    assert unconfirmed.status_code == 400
    deleted = admin_root.post(path, action="delete", confirm="yes")
    assert deleted.status_code == 302
    assert admin_root.http.get(ADMIN + path).status_code == 404


def test_sign_out_ends_the_session(admin_root: AdminBrowser) -> None:
    assert admin_root.post("/sign-out").status_code == 302
    after = admin_root.http.get(ADMIN + "/clients")
    assert after.status_code == 302
    assert after.headers["Location"].endswith(ADMIN + "/")


def test_revoking_a_clients_tokens_ends_its_sessions(
    admin_app: Flask, admin_oauth: OAuth
) -> None:
    created = admin_oauth.create_client(["client:read"])
    browser = AdminBrowser(admin_app.test_client())
    browser.sign_in(created["client_id"], created["client_secret"])
    assert browser.http.get(ADMIN + "/clients").status_code == 200
    admin_oauth.http.post(
        f"/api/v1/oauth/client/{created['client_id']}/revoke-tokens",
        headers=admin_oauth.root_headers(),
    )
    assert browser.http.get(ADMIN + "/clients").status_code == 302


def test_sessions_end_after_idle_time(make_app: Any, clock: Any) -> None:
    app = make_app(clock=clock, FIDES_OAUTH_ADMIN=True)
    browser = AdminBrowser(app.test_client())
    browser.sign_in(ROOT_ID, ROOT_SECRET)
    clock.advance(10 * 60)
    assert browser.http.get(ADMIN + "/clients").status_code == 200
    clock.advance(16 * 60)
    assert browser.http.get(ADMIN + "/clients").status_code == 302


def test_search_covers_every_page_and_takes_wildcards_literally(
    admin_root: AdminBrowser, admin_oauth: OAuth
) -> None:
    for n in range(22):
        admin_oauth.create_client(["policy:read"], name=f"batch-{n}")
    special = admin_oauth.create_client(["policy:read"], name="Special Export")
    first_page = admin_root.http.get(ADMIN + "/clients").get_data(as_text=True)
    assert special["client_id"] not in first_page  # it is on page 2
    found = admin_root.http.get(ADMIN + "/clients?q=export").get_data(as_text=True)
    assert special["client_id"] in found
    assert "batch-1" not in found
    by_id = admin_root.http.get(ADMIN + "/clients?q=" + special["client_id"][:8])
    assert special["client_id"] in by_id.get_data(as_text=True)
    wildcard = admin_root.http.get(ADMIN + "/clients?q=%25").get_data(as_text=True)
    assert "No clients" in wildcard


def test_client_settings_from_the_private_key_jwt_issue(
    admin_root: AdminBrowser, admin_oauth: OAuth
) -> None:
    """Auth method, keys, token lifetime and DPoP binding, through the same
    rules as the API (bad values are refused and change nothing)."""
    from joserfc.jwk import ECKey

    created = admin_oauth.create_client(["policy:read"])
    path = f"/clients/{created['client_id']}"
    page = admin_root.http.get(ADMIN + path).get_data(as_text=True)
    for name in (
        "Authentication method",
        "Token lifetime (seconds)",
        "DPoP-bound tokens only",
    ):
        assert name in page
    saved = admin_root.post(
        path,
        action="settings",
        token_endpoint_auth_method="client_secret_post",
        access_token_lifetime="300",
        dpop_bound_access_tokens="yes",
    )
    assert saved.status_code == 200, saved.get_data(as_text=True)
    stored = admin_oauth.http.get(
        f"/api/v1/oauth/client/{created['client_id']}",
        headers=admin_oauth.root_headers(),
    ).get_json()
    assert stored["token_endpoint_auth_method"] == "client_secret_post"
    assert stored["access_token_lifetime"] == 300
    assert stored["dpop_bound_access_tokens"] is True

    before = admin_oauth.snapshot()
    private = ECKey.generate_key("P-256", private=True).as_dict(private=True)
    refused = admin_root.post(
        path,
        action="settings",
        token_endpoint_auth_method="private_key_jwt",
        jwks=json.dumps({"keys": [private | {"kid": "k"}]}),
    )
    assert refused.status_code == 422
    assert admin_oauth.snapshot() == before
    for lifetime in ("59", "abc"):
        bad = admin_root.post(
            path,
            action="settings",
            token_endpoint_auth_method="client_secret_post",
            access_token_lifetime=lifetime,
        )
        assert bad.status_code == 422


def test_sign_in_and_out_are_audited_without_secrets(admin_app: Flask) -> None:
    from fides_oauth import signals

    received: list[Any] = []

    def record(sender: Any, event: Any) -> None:
        received.append(event)

    signals.admin_signed_in.connect(record)
    signals.admin_signed_out.connect(record)
    try:
        browser = AdminBrowser(admin_app.test_client())
        browser.sign_in(ROOT_ID, ROOT_SECRET)
        browser.post("/sign-out")
    finally:
        signals.admin_signed_in.disconnect(record)
        signals.admin_signed_out.disconnect(record)
    assert [(e.event, e.actor) for e in received] == [
        ("admin_signed_in", ROOT_ID),
        ("admin_signed_out", ROOT_ID),
    ]
    assert ROOT_SECRET not in repr(received)


def test_a_rotation_with_an_unreadable_grace_is_refused(
    admin_root: AdminBrowser, admin_oauth: OAuth
) -> None:
    """Not a number is never "no grace period": 422, and nothing changes."""
    created = admin_oauth.create_client(["policy:read"])
    before = admin_oauth.snapshot()
    response = admin_root.post(
        f"/clients/{created['client_id']}", action="rotate", grace_seconds="ten"
    )
    assert response.status_code == 422
    assert admin_oauth.snapshot() == before


def test_the_signing_keys_page(
    admin_root: AdminBrowser, admin_app: Flask, admin_oauth: OAuth
) -> None:
    from fides_oauth import signals

    page = admin_root.http.get(ADMIN + "/keys").get_data(as_text=True)
    (first,) = [
        k["kid"] for k in admin_oauth.http.get("/api/v1/oauth/jwks").get_json()["keys"]
    ]
    assert first in page and "current: signs new tokens" in page
    received: list[Any] = []

    def record(sender: Any, event: Any) -> None:
        received.append(event)

    signals.signing_key_rotated.connect(record)
    try:
        rotated = admin_root.post("/keys")
    finally:
        signals.signing_key_rotated.disconnect(record)
    assert rotated.status_code == 200
    kids = [
        k["kid"] for k in admin_oauth.http.get("/api/v1/oauth/jwks").get_json()["keys"]
    ]
    assert len(kids) == 2 and first in kids
    assert [(e.event, e.actor) for e in received] == [("signing_key_rotated", ROOT_ID)]
    # Another client sees the keys but may not rotate them.
    created = admin_oauth.create_client(["client:read"])
    other = AdminBrowser(admin_app.test_client())
    other.sign_in(created["client_id"], created["client_secret"])
    assert other.http.get(ADMIN + "/keys").status_code == 200
    assert other.post("/keys").status_code == 403
    assert len(admin_oauth.http.get("/api/v1/oauth/jwks").get_json()["keys"]) == 2


def test_the_cookie_is_secure_over_https(admin_app: Flask) -> None:
    """CONTRACT §9: the session cookie is "Secure on https"."""
    http = admin_app.test_client()
    page = http.get(ADMIN + "/", base_url="https://localhost")
    token = admin_csrf(page.get_data(as_text=True))
    assert "Secure" in page.headers["Set-Cookie"]
    response = http.post(
        ADMIN + "/sign-in",
        base_url="https://localhost",
        data={"csrf_token": token, "client_id": ROOT_ID, "client_secret": ROOT_SECRET},
    )
    assert response.status_code == 302
    cookie = next(
        c
        for c in response.headers.getlist("Set-Cookie")
        if c.startswith("fides_oauth_admin=")
    )
    assert "Secure" in cookie


def test_a_session_works_in_every_worker_without_a_secret_key(make_app: Any) -> None:
    """CONTRACT §9: with no SECRET_KEY from the host, a session begun on one
    worker is valid on another."""
    first = make_app(FIDES_OAUTH_ADMIN=True)
    second = make_app(FIDES_OAUTH_ADMIN=True)
    assert not first.config.get("SECRET_KEY")
    browser = AdminBrowser(first.test_client())
    browser.sign_in(ROOT_ID, ROOT_SECRET)
    cookie = browser.http.get_cookie("fides_oauth_admin", path=ADMIN + "/")
    assert cookie is not None
    other = second.test_client()
    other.set_cookie("fides_oauth_admin", cookie.value, path=ADMIN + "/")
    page = other.get(ADMIN + "/clients")
    assert page.status_code == 200
    assert "Clients" in page.get_data(as_text=True)


def test_changes_are_audited_with_the_signed_in_client(
    admin_app: Flask, admin_oauth: OAuth, caplog: pytest.LogCaptureFixture
) -> None:
    """CONTRACT §9: audit records name the signed-in client as the actor and
    never carry a secret."""
    import logging

    creator = admin_oauth.create_client(["client:create", "client:read", "policy:read"])
    browser = AdminBrowser(admin_app.test_client())
    browser.sign_in(creator["client_id"], creator["client_secret"])
    caplog.set_level(logging.INFO, logger="fides_oauth.audit")
    caplog.clear()  # only what the signed-in client does from here
    response = browser.post("/clients/new", name="etl", scope=["policy:read"])
    secret = re.search(
        r'id="secret" readonly value="([^"]+)"', response.get_data(as_text=True)
    )
    assert secret
    records = [r for r in caplog.records if r.name == "fides_oauth.audit"]
    created = [r for r in records if r.fides_oauth["event"] == "client_created"]  # type: ignore[attr-defined]
    assert [r.fides_oauth["actor"] for r in created] == [creator["client_id"]]  # type: ignore[attr-defined]
    for record in records:
        assert secret.group(1) not in record.getMessage()
        assert creator["client_secret"] not in record.getMessage()
