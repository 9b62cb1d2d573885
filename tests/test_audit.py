"""The audit trail: a signal and a structured log record per event, no secrets."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from fides_oauth import signals
from fides_oauth.audit import AuditEvent
from tests.conftest import ROOT_ID
from tests.conftest import OAuth
from tests.conftest import basic

TOKEN = "/api/v1/oauth/token"


@pytest.fixture
def received() -> Any:
    events: list[AuditEvent] = []

    def listener(sender: Any, event: AuditEvent) -> None:
        events.append(event)

    for signal in signals.SIGNALS.values():
        signal.connect(listener)
    yield events
    for signal in signals.SIGNALS.values():
        signal.disconnect(listener)


def _full_flow(oauth: OAuth) -> list[str]:
    """Every audited operation once; returns every secret and token it saw."""
    http = oauth.http
    seen: list[str] = []
    root = oauth.root_token()
    seen.append(root)
    headers = {"Authorization": f"Bearer {root}"}
    created = oauth.create_client(["rule:read", "policy:read"], headers=headers)
    cid = created["client_id"]
    seen.append(created["client_secret"])
    client_token = oauth.token(cid, created["client_secret"])
    seen.append(client_token)
    http.post(
        "/api/v1/oauth/revoke",
        data={"token": client_token},
        headers=basic(cid, created["client_secret"]),
    )
    http.put(f"/api/v1/oauth/client/{cid}", json={"name": "renamed"}, headers=headers)
    http.put(f"/api/v1/oauth/client/{cid}/scope", json=["rule:read"], headers=headers)
    rotated = http.post(
        f"/api/v1/oauth/client/{cid}/secret",
        json={"grace_seconds": 60},
        headers=headers,
    ).get_json()
    seen.append(rotated["client_secret"])
    http.post(f"/api/v1/oauth/client/{cid}/revoke-tokens", headers=headers)
    http.post(TOKEN, headers=basic(cid, "wrong-secret-value"))
    http.post(TOKEN, data={"client_id": "f" * 32, "client_secret": "guess-secret"})
    http.delete(f"/api/v1/oauth/client/{cid}", headers=headers)
    return seen


#: Events only the admin page sends (tested in tests/test_admin.py).
ADMIN_ONLY = frozenset({"admin_signed_in", "admin_signed_out", "signing_key_rotated"})


def test_every_event_is_signalled_with_actor_target_scopes_outcome(
    oauth: OAuth, received: list[AuditEvent]
) -> None:
    _full_flow(oauth)
    events = [event.event for event in received]
    for name in signals.SIGNALS:
        if name in ADMIN_ONLY:
            continue
        assert name in events, name
    created = next(e for e in received if e.event == "client_created")
    assert created.actor == ROOT_ID
    assert created.target and len(created.target) == 32
    assert created.scopes == ("policy:read", "rule:read")
    assert created.remote_addr == "127.0.0.1"
    assert created.outcome == "success"
    changed = next(e for e in received if e.event == "client_scopes_changed")
    assert changed.scopes == ("rule:read",)
    failed = [e for e in received if e.event == "authentication_failed"]
    # A known client is named; an id that names none only by a fingerprint
    # (it may be a secret typed into the wrong field).
    actors = {e.actor for e in failed}
    assert created.target in actors
    (unknown,) = actors - {created.target}
    assert unknown is not None
    assert unknown.startswith("unknown:")
    assert "f" * 32 not in unknown
    assert {e.outcome for e in failed} == {"invalid_client"}
    issued = [e for e in received if e.event == "token_issued"]
    assert issued[0].actor == ROOT_ID
    deleted = next(e for e in received if e.event == "client_deleted")
    assert deleted.target == created.target


def test_log_records_carry_the_event_and_no_secret_or_token(
    oauth: OAuth, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    seen = _full_flow(oauth)
    audit = [r for r in caplog.records if r.name == "fides_oauth.audit"]
    assert len(audit) >= len(signals.SIGNALS) - len(ADMIN_ONLY)
    for record in audit:
        data = record.fides_oauth  # type: ignore[attr-defined]
        assert set(data) == {
            "event",
            "actor",
            "target",
            "scopes",
            "remote_addr",
            "outcome",
        }
        assert data["event"] in record.getMessage()
    everything = "\n".join(
        record.getMessage() + repr(getattr(record, "fides_oauth", ""))
        for record in caplog.records
    )
    for value in seen:
        assert value not in everything
        # A prefix long enough to identify a secret is not there either.
        assert value[:20] not in everything
    assert "$2b$" not in everything


def test_rate_limited_attempts_are_audited(
    make_app: Any, received: list[AuditEvent]
) -> None:
    app = make_app(FIDES_OAUTH_AUTH_FAILURE_LIMIT=1)
    http = app.test_client()
    http.post(TOKEN, data={"client_id": ROOT_ID, "client_secret": "wrong-secret"})
    http.post(TOKEN, data={"client_id": ROOT_ID, "client_secret": "wrong-secret"})
    outcomes = [e.outcome for e in received if e.event == "authentication_failed"]
    assert outcomes == ["invalid_client", "rate_limited"]


def test_hostile_client_ids_cannot_forge_log_lines(
    oauth: OAuth, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="fides_oauth.audit")
    oauth.http.post(
        TOKEN,
        data={
            "client_id": "x\nFAKE event=client_deleted " + "y" * 500,
            "client_secret": "s",
        },
    )
    (record,) = [r for r in caplog.records if r.name == "fides_oauth.audit"]
    assert "\n" not in record.getMessage()
    assert len(record.fides_oauth["actor"]) <= 64  # type: ignore[attr-defined]
