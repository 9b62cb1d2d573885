"""Bodies over the limit are 413 however they are framed, and no route the
library adds answers HTML."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests
from flask import Flask
from flask import request
from sqlalchemy import create_engine
from sqlalchemy.orm import scoped_session
from sqlalchemy.orm import sessionmaker

from fides_oauth import FidesOAuth
from fides_oauth import create_tables
from tests.conftest import ROOT_ID
from tests.conftest import ROOT_SECRET
from tests.conftest import OAuth
from tests.conftest import assert_error
from tests.conftest import base_config
from tests.conftest import database_url

PADDING = 2 * 1024 * 1024  # far past the 64 KiB default limit


def _chunked(body: bytes) -> Iterator[bytes]:
    """A generator body: requests sends it with Transfer-Encoding: chunked."""
    for start in range(0, len(body), 64 * 1024):
        yield body[start : start + 64 * 1024]


def _root_token(api: str) -> str:
    response = requests.post(
        api + "/oauth/token",
        data={"client_id": ROOT_ID, "client_secret": ROOT_SECRET},
        timeout=30,
    )
    return str(response.json()["access_token"])


def _post(url: str, body: bytes, content_type: str, token: str | None = None) -> Any:
    headers = {"Content-Type": content_type}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return requests.post(url, data=_chunked(body), headers=headers, timeout=60)


def _is_413(response: requests.Response) -> None:
    assert response.status_code == 413, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.json()["error_description"]


def test_chunked_bodies_over_the_limit_are_413_and_write_nothing(
    live_server: str, oauth: OAuth
) -> None:
    api = live_server + "/api/v1"
    token = _root_token(api)
    client = oauth.create_client(["policy:read"])
    before = oauth.snapshot()
    padded_create = b'["policy:read"]' + b" " * PADDING
    _is_413(_post(api + "/oauth/client", padded_create, "application/json", token))
    padded_scopes = b'["rule:read"]' + b" " * PADDING
    scope_url = f"{api}/oauth/client/{client['client_id']}/scope"
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
    _is_413(
        requests.put(
            scope_url, data=_chunked(padded_scopes), headers=headers, timeout=60
        )
    )
    assert oauth.snapshot() == before
    form = f"client_id={ROOT_ID}&client_secret={ROOT_SECRET}&pad=".encode()
    _is_413(
        _post(
            api + "/oauth/token",
            form + b"a" * PADDING,
            "application/x-www-form-urlencoded",
        )
    )


def test_chunked_bodies_under_the_limit_still_work(
    live_server: str, oauth: OAuth
) -> None:
    api = live_server + "/api/v1"
    form = f"client_id={ROOT_ID}&client_secret={ROOT_SECRET}".encode()
    issued = _post(api + "/oauth/token", form, "application/x-www-form-urlencoded")
    assert issued.status_code == 200, issued.text
    token = issued.json()["access_token"]
    created = _post(
        api + "/oauth/client", b'["policy:read"]', "application/json", token
    )
    assert created.status_code == 200, created.text
    assert created.json()["scopes"] == ["policy:read"]


def test_an_empty_chunked_body_with_basic_credentials_gets_a_token(
    live_server: str,
) -> None:
    """No body is no wrong encoding, however it is framed (a chunked body of
    length zero, no Content-Type)."""
    import base64

    credentials = base64.b64encode(f"{ROOT_ID}:{ROOT_SECRET}".encode()).decode()
    response = requests.post(
        live_server + "/api/v1/oauth/token",
        data=_chunked(b""),
        headers={"Authorization": f"Basic {credentials}"},
        timeout=30,
    )
    assert response.status_code == 200, response.text


# -- no HTML -------------------------------------------------------------------


def _not_html(response: Any) -> None:
    assert response.mimetype == "application/json", response.data[:200]
    assert b"<html" not in response.data.lower()
    assert b"<!doctype" not in response.data.lower()


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/api/v1/oauth//token"),
        ("POST", "/api/v1//oauth/token"),
        ("DELETE", "/api/v1/oauth//client/0123456789abcdef0123456789abcdef"),
        ("GET", "/api/v1/oauth//jwks"),
        ("GET", "/api/v1/oauth//client//x"),
    ],
)
def test_merged_slashes_redirect_without_html(
    oauth: OAuth, method: str, path: str
) -> None:
    response = oauth.http.open(path, method=method)
    assert response.status_code == 308
    _not_html(response)
    location = response.headers["Location"]
    assert "//" not in location.split("://", 1)[1]
    assert response.get_json()["location"] == location


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
def test_metadata_refuses_other_methods_in_json(oauth: OAuth, method: str) -> None:
    path = "/.well-known/oauth-authorization-server/api/v1"
    response = oauth.http.open(path, method=method)
    body = assert_error(response, 405, "method_not_allowed")
    assert body["error_description"]
    assert "GET" in response.headers["Allow"]
    _not_html(response)


def test_unknown_well_known_paths_are_json(oauth: OAuth) -> None:
    for path in (
        "/.well-known/oauth-authorization-server",
        "/.well-known/oauth-authorization-server/other",
    ):
        _not_html(oauth.http.post(path))
        assert_error(oauth.http.get(path), 404, "not_found")


def test_delete_204_carries_no_content_type(oauth: OAuth) -> None:
    client = oauth.create_client(["policy:read"])
    response = oauth.http.delete(
        f"/api/v1/oauth/client/{client['client_id']}", headers=oauth.root_headers()
    )
    assert response.status_code == 204
    assert response.data == b""
    assert "Content-Type" not in response.headers


def test_host_routes_keep_the_hosts_own_answers(oauth: OAuth) -> None:
    # The JSON rule is for the library's paths; the host's are left alone.
    response = oauth.http.get("/api/v1//health")
    assert response.status_code == 308
    assert response.mimetype != "application/json"


def test_a_host_hook_that_reads_the_form_cannot_bypass_the_limit(
    tmp_path: Any,
) -> None:
    # A host hook registered before the blueprint (Flask-WTF's CSRF check
    # is one) reads request.form before any route runs.
    engine = create_engine(database_url(tmp_path, "hook.sqlite"))
    session = scoped_session(sessionmaker(bind=engine))
    app = Flask("hooked")
    app.config.update(base_config(tmp_path) | {"FIDES_OAUTH_MAX_BODY_BYTES": 2048})
    seen: list[int] = []

    @app.before_request
    def read_the_form() -> None:
        seen.append(len(request.form))

    app.register_blueprint(FidesOAuth(session=session), url_prefix="/api/v1")
    app.teardown_appcontext(lambda exc: session.remove())
    try:
        create_tables(app)
        response = app.test_client().post(
            "/api/v1/oauth/token",
            data={
                "client_id": ROOT_ID,
                "client_secret": ROOT_SECRET,
                "pad": "a" * 100_000,
            },
        )
        _is_413_flask(response)
        assert seen == []  # refused before the host's hook read anything
    finally:
        engine.dispose()


def _is_413_flask(response: Any) -> None:
    assert_error(response, 413, "invalid_request")


@pytest.mark.parametrize("host", ["a..b", "x" * 70 + ".example"])
def test_a_malformed_host_gets_json_on_library_paths(oauth: OAuth, host: str) -> None:
    response = oauth.http.post("/api/v1/oauth/token", headers={"Host": host})
    assert response.status_code == 400
    _not_html(response)


def test_options_answers_carry_no_html_content_type(oauth: OAuth) -> None:
    response = oauth.http.options("/api/v1/oauth/token")
    assert response.status_code == 200
    assert "POST" in response.headers["Allow"]
    assert "text/html" not in response.headers.get("Content-Type", "")
