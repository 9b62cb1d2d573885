"""``@require_scopes`` on ``async def`` views, as on plain ones (Flask runs
async views with ``flask[async]``): allowed, no token, and a token without
the scope, each for a sync and an async view."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from flask import Flask

from fides_oauth import current_client
from fides_oauth import require_scopes
from tests.conftest import OAuth
from tests.conftest import assert_error


@pytest.fixture
def host(make_app: Any) -> Flask:
    app = make_app()

    @app.get("/sync/policy")
    @require_scopes("policy:read")
    def sync_policy() -> dict[str, Any]:
        return {"client": current_client.client_id, "kind": "sync"}

    @app.get("/async/policy")
    @require_scopes("policy:read")
    async def async_policy() -> dict[str, Any]:
        await asyncio.sleep(0)  # a real suspension point
        return {"client": current_client.client_id, "kind": "async"}

    return app


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_a_token_with_the_scope_is_let_in(host: Flask, kind: str) -> None:
    oauth = OAuth(host, host.test_client())
    client_id, _, headers = oauth.client_with(["policy:read"])
    response = oauth.http.get(f"/{kind}/policy", headers=headers)
    assert response.status_code == 200
    assert response.get_json() == {"client": client_id, "kind": kind}


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_no_token_is_401_with_a_challenge(host: Flask, kind: str) -> None:
    response = host.test_client().get(f"/{kind}/policy")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert response.mimetype == "application/json"


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_a_token_without_the_scope_is_403(host: Flask, kind: str) -> None:
    oauth = OAuth(host, host.test_client())
    _, _, headers = oauth.client_with(["rule:read"])
    response = oauth.http.get(f"/{kind}/policy", headers=headers)
    assert_error(response, 403, "insufficient_scope")


def test_the_async_view_stays_a_coroutine_function() -> None:
    """Flask tells async views apart by this: were it lost, Flask would
    return the coroutine object itself (a 500)."""
    import inspect

    @require_scopes("policy:read")
    async def view() -> str:
        return "ok"

    assert inspect.iscoroutinefunction(view)
    assert view.__name__ == "view"


def test_an_async_view_without_flask_async_fails_at_import() -> None:
    """Without asgiref, Flask would answer the view's first request with a
    500; the decorator says what to install when the module is imported."""
    import subprocess
    import sys

    script = (
        "import sys\n"
        "sys.modules['asgiref'] = None\n"
        "from fides_oauth import require_scopes\n"
        "try:\n"
        "    @require_scopes('policy:read')\n"
        "    async def view():\n"
        "        return 'x'\n"
        "except RuntimeError as error:\n"
        "    print(error)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert "flask[async]" in done.stdout
