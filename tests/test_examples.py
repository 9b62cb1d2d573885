"""The reference host app (CONTRACT §3)."""

from __future__ import annotations

from typing import Any

import pytest

from examples import host_app
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
    host_app._told.clear()  # each test is a fresh process for the notices
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
    """Fides' "Creating OAuth Clients", step by step, as the quick start replays it."""
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


def test_the_demo_notice_tells_the_truth_once_per_process(
    bare_env: list[Any],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """With only the root id set, the notice names that id (not the demo
    one) and the demo values actually used; a second app in the same
    process says nothing more."""
    monkeypatch.setenv("FIDES_OAUTH_ROOT_CLIENT_ID", "env-root")
    bare_env.append(create_app({"FIDES_OAUTH_BCRYPT_ROUNDS": 4}))
    told = capsys.readouterr().err
    assert "'env-root' (from the environment)" in told
    assert f"root client id '{DEMO_ROOT_CLIENT_ID}'" not in told
    assert "FIDES_OAUTH_ROOT_CLIENT_SECRET" in told
    assert "FIDES_OAUTH_ROOT_CLIENT_ID," not in told  # it was set
    bare_env.append(create_app({"FIDES_OAUTH_BCRYPT_ROUNDS": 4}))
    assert "demo" not in capsys.readouterr().err


def test_cli_commands_other_than_run_print_no_demo_notice(
    bare_env: list[Any], capsys: pytest.CaptureFixture[str]
) -> None:
    import click

    with click.Context(click.Command("scopes"), info_name="scopes"):
        bare_env.append(create_app({"FIDES_OAUTH_BCRYPT_ROUNDS": 4}))
    assert "demo" not in capsys.readouterr().err
    host_app._told.clear()
    with click.Context(click.Command("run"), info_name="run"):
        bare_env.append(create_app({"FIDES_OAUTH_BCRYPT_ROUNDS": 4}))
    assert "demo" in capsys.readouterr().err


def test_both_ways_of_loading_the_host_share_one_instance_folder(
    bare_env: list[Any],
) -> None:
    """`flask --app examples/host_app.py` loads the file as ``host_app``;
    gunicorn imports ``examples.host_app``: one instance folder (and so one
    default SQLite file) for both."""
    import importlib.util
    from pathlib import Path

    path = Path(host_app.__file__)
    spec = importlib.util.spec_from_file_location("host_app", path)
    assert spec is not None and spec.loader is not None
    as_file = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(as_file)
    config = {"FIDES_OAUTH_BCRYPT_ROUNDS": 4}
    by_file = as_file.create_app(config)
    by_package = create_app(config)
    bare_env.append(by_package)
    with by_file.app_context():
        as_file.db.engine.dispose()
    assert (
        by_file.instance_path
        == by_package.instance_path
        == str(path.parent / "instance")
    )


def test_the_host_logs_the_audit_trail_at_info_without_secrets(tmp_path: Any) -> None:
    """Started as a server starts it (no logging configured), the reference
    host shows audit events in its log, and no secret."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    script = (
        "from examples.host_app import create_app\n"
        "app = create_app({'FIDES_OAUTH_BCRYPT_ROUNDS': 4})\n"
        "http = app.test_client()\n"
        "r = http.post('/api/v1/oauth/token', data={'client_id': 'env-root',"
        " 'client_secret': 'env-root-secret-0123456'})\n"
        "assert r.status_code == 200, r.data\n"
        "print(r.get_json()['access_token'])\n"
    )
    env = os.environ | {
        # Its own file: the subprocess leaves its tables (and a signing key
        # sealed under its KEK) behind.
        "DATABASE_URL": f"sqlite:///{tmp_path / 'logged.sqlite'}",
        "FIDES_OAUTH_ROOT_CLIENT_ID": "env-root",
        "FIDES_OAUTH_ROOT_CLIENT_SECRET": "env-root-secret-0123456",
        "FIDES_OAUTH_KEY_ENCRYPTION_KEY": "k" * 43,
    }
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=Path(__file__).resolve().parent.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    token = done.stdout.strip()
    audit = [line for line in done.stderr.splitlines() if "fides_oauth.audit" in line]
    assert any("token_issued actor=env-root" in line for line in audit), done.stderr
    assert "env-root-secret-0123456" not in done.stderr
    assert token and token not in done.stderr


def test_a_cli_command_on_a_host_that_cannot_start_says_so_in_one_line(
    tmp_path: Any,
) -> None:
    """The app is built before the command runs: a start-up failure (here a
    database path that cannot exist) is one line, not a traceback."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    env = os.environ | {
        "DATABASE_URL": f"sqlite:///{tmp_path}/missing/dir/x.sqlite",
        "FIDES_OAUTH_ROOT_CLIENT_ID": "env-root",
        "FIDES_OAUTH_ROOT_CLIENT_SECRET": "env-root-secret-0123456",
        "FIDES_OAUTH_KEY_ENCRYPTION_KEY": "k" * 43,
    }
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "flask",
            "--app",
            "examples/host_app.py",
            "fides-oauth",
            "list-clients",
        ],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("Error:")]
    assert errors == [errors[0]] and "could not start" in errors[0], done.stderr
