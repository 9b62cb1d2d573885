"""The reference host app (CONTRACT §3)."""

from __future__ import annotations

from typing import Any

import pytest

from examples.host_app import DEMO_ROOT_CLIENT_ID
from examples.host_app import DEMO_ROOT_CLIENT_SECRET
from examples.host_app import create_app
from examples.host_app import db
from fides_oauth import drop_tables
from tests.conftest import bearer
from tests.conftest import database_url


@pytest.fixture
def bare_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> Any:
    monkeypatch.delenv("FIDES_OAUTH_ROOT_CLIENT_ID", raising=False)
    monkeypatch.delenv("FIDES_OAUTH_ROOT_CLIENT_SECRET", raising=False)
    monkeypatch.delenv("FIDES_OAUTH_KEY_ENCRYPTION_KEY", raising=False)
    monkeypatch.setenv("DATABASE_URL", database_url(tmp_path, "example.sqlite"))
    apps: list[Any] = []
    yield apps
    for app in apps:
        with app.app_context():
            db.session.remove()
            drop_tables()
            db.engine.dispose()


def _token(http: Any, client_id: str, secret: str) -> Any:
    return http.post(
        "/api/v1/oauth/token", data={"client_id": client_id, "client_secret": secret}
    )


def test_no_configuration_runs_on_demo_credentials_and_says_so(
    bare_env: list[Any], capsys: pytest.CaptureFixture[str]
) -> None:
    app = create_app({"FIDES_OAUTH_BCRYPT_ROUNDS": 4})
    bare_env.append(app)
    assert "demo" in capsys.readouterr().err
    http = app.test_client()
    assert http.get("/api/v1/health").status_code == 200
    assert _token(http, DEMO_ROOT_CLIENT_ID, DEMO_ROOT_CLIENT_SECRET).status_code == 200


def test_root_credentials_come_from_the_environment(
    bare_env: list[Any],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("FIDES_OAUTH_ROOT_CLIENT_ID", "env-root")
    monkeypatch.setenv("FIDES_OAUTH_ROOT_CLIENT_SECRET", "env-root-secret-0123456")
    monkeypatch.setenv("FIDES_OAUTH_KEY_ENCRYPTION_KEY", "k" * 43)
    app = create_app({"FIDES_OAUTH_BCRYPT_ROUNDS": 4})
    bare_env.append(app)
    assert "demo" not in capsys.readouterr().err
    http = app.test_client()
    assert _token(http, "env-root", "env-root-secret-0123456").status_code == 200
    assert _token(http, DEMO_ROOT_CLIENT_ID, DEMO_ROOT_CLIENT_SECRET).status_code == 401


def test_the_fides_page_flow(bare_env: list[Any]) -> None:
    """Fides' "Creating OAuth Clients", step by step, as the README replays it."""
    app = create_app({"FIDES_OAUTH_BCRYPT_ROUNDS": 4})
    bare_env.append(app)
    http = app.test_client()
    root = _token(http, DEMO_ROOT_CLIENT_ID, DEMO_ROOT_CLIENT_SECRET).get_json()
    created = http.post(
        "/api/v1/oauth/client",
        json=["policy:read", "rule:read"],
        headers=bearer(root["access_token"]),
    )
    assert created.status_code == 200
    pair = created.get_json()
    token = _token(http, pair["client_id"], pair["client_secret"]).get_json()
    assert token["scope"] == "policy:read rule:read"
    headers = bearer(token["access_token"])
    assert http.get("/api/v1/policy", headers=headers).status_code == 200
    assert http.get("/api/v1/rule", headers=headers).status_code == 200
    refused = http.post("/api/v1/oauth/client", json=["policy:read"], headers=headers)
    assert refused.status_code == 403
    assert refused.get_json()["error"] == "insufficient_scope"


def test_demo_credentials_log_a_warning_without_the_secret(
    bare_env: list[Any], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("WARNING")
    app = create_app({"FIDES_OAUTH_BCRYPT_ROUNDS": 4})
    bare_env.append(app)
    warnings = [r for r in caplog.records if "SECURITY WARNING" in r.getMessage()]
    assert len(warnings) == 1
    assert warnings[0].levelname == "WARNING"
    assert DEMO_ROOT_CLIENT_SECRET not in warnings[0].getMessage()
