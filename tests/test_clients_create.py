"""POST /oauth/client: both body forms, registry and containment (CONTRACT §5.2)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import OAuth
from tests.conftest import bearer

CLIENTS = "/api/v1/oauth/client"


def test_bare_array_from_fides_documentation(oauth: OAuth) -> None:
    response = oauth.http.post(
        CLIENTS, json=["policy:read", "rule:read"], headers=oauth.root_headers()
    )
    assert response.status_code == 200
    body = response.get_json()
    assert len(body["client_id"]) == 32
    int(body["client_id"], 16)  # hexadecimal
    assert len(body["client_secret"]) >= 22  # at least 128 random bits
    assert body["scopes"] == ["policy:read", "rule:read"]
    assert body["name"] is None and body["description"] is None


def test_object_form_with_name_and_description(oauth: OAuth) -> None:
    response = oauth.http.post(
        CLIENTS,
        json={"scopes": ["rule:read"], "name": "etl", "description": "nightly job"},
        headers=oauth.root_headers(),
    )
    assert response.status_code == 200
    body = response.get_json()
    assert body["scopes"] == ["rule:read"]
    assert body["name"] == "etl"
    assert body["description"] == "nightly job"
    assert body["created_by"] == "root-client-for-tests"
    assert body["created_at"] and body["updated_at"]


def test_object_form_with_empty_scopes(oauth: OAuth) -> None:
    created = oauth.create_client([], name="no scopes")
    assert created["scopes"] == []


def test_scopes_are_stored_sorted_without_duplicates(oauth: OAuth) -> None:
    created = oauth.create_client(["rule:read", "policy:read", "rule:read"])
    assert created["scopes"] == ["policy:read", "rule:read"]


def test_created_client_authenticates_with_its_secret(oauth: OAuth) -> None:
    created = oauth.create_client(["policy:read"])
    token = oauth.token(created["client_id"], created["client_secret"])
    response = oauth.http.get("/api/v1/policy", headers=bearer(token))
    assert response.status_code == 200


def test_every_client_gets_its_own_id_and_secret(oauth: OAuth) -> None:
    made = [oauth.create_client(["rule:read"]) for _ in range(5)]
    assert len({m["client_id"] for m in made}) == 5
    assert len({m["client_secret"] for m in made}) == 5


def test_unknown_scope_is_422_naming_it(oauth: OAuth) -> None:
    before = oauth.snapshot()
    response = oauth.http.post(
        CLIENTS,
        json=["policy:read", "policy:destroy", "nope"],
        headers=oauth.root_headers(),
    )
    assert response.status_code == 422
    body = response.get_json()
    assert body["error"] == "invalid_scope"
    assert body["unknown_scopes"] == ["nope", "policy:destroy"]
    assert "policy:destroy" in body["error_description"]
    assert oauth.snapshot() == before


def test_scope_the_caller_lacks_is_403_naming_it(oauth: OAuth) -> None:
    _, _, headers = oauth.client_with(["client:create", "rule:read"])
    before = oauth.snapshot()
    response = oauth.http.post(
        CLIENTS, json=["rule:read", "policy:read", "client:delete"], headers=headers
    )
    assert response.status_code == 403
    body = response.get_json()
    assert body["error"] == "insufficient_scope"
    assert body["missing_scopes"] == ["client:delete", "policy:read"]
    assert "policy:read" in body["error_description"]
    assert oauth.snapshot() == before


def test_caller_may_grant_what_it_holds(oauth: OAuth) -> None:
    _, _, headers = oauth.client_with(["client:create", "rule:read"])
    created = oauth.create_client(["rule:read"], headers=headers)
    assert created["scopes"] == ["rule:read"]


def test_create_needs_client_create(oauth: OAuth) -> None:
    _, _, headers = oauth.client_with(["rule:read"])
    response = oauth.http.post(CLIENTS, json=[], headers=headers)
    assert response.status_code == 403
    assert response.get_json()["error"] == "insufficient_scope"
    response = oauth.http.post(CLIENTS, json=[])
    assert response.status_code == 401


@pytest.mark.parametrize(
    ("kwargs", "statuses"),
    [
        ({"data": "not json", "content_type": "application/json"}, {400}),
        ({"data": '["rule:read"]', "content_type": "text/plain"}, {415}),
        ({"data": "scopes=rule:read"}, {415}),
        ({"json": {"name": "x"}}, {422}),
        ({"json": {"scopes": "rule:read"}}, {422}),
        ({"json": {"scopes": [1, 2]}}, {422}),
        ({"json": {"scopes": [["rule:read"]]}}, {422}),
        ({"json": {"scopes": [], "name": 5}}, {422}),
        ({"json": {"scopes": [], "description": ["x"]}}, {422}),
        ({"json": {"scopes": [], "scope": ["rule:read"]}}, {422}),
        ({"json": {"scopes": [], "name": "x" * 201}}, {422}),
        ({"json": {"scopes": [], "name": "a\x00b"}}, {422}),
        ({"json": "rule:read"}, {422}),
        ({"data": "null", "content_type": "application/json"}, {422}),
        ({"json": 42}, {422}),
        ({"data": b'["\xff"]', "content_type": "application/json"}, {400}),
        ({"data": "[" * 100_000, "content_type": "application/json"}, {400, 413}),
        (
            {"data": '["' + "a" * 70_000 + '"]', "content_type": "application/json"},
            {413},
        ),
    ],
)
def test_bad_bodies_are_refused_and_nothing_is_written(
    oauth: OAuth, kwargs: dict[str, Any], statuses: set[int]
) -> None:
    headers = oauth.root_headers()
    before = oauth.snapshot()
    response = oauth.http.post(CLIENTS, headers=headers, **kwargs)
    assert response.status_code in statuses
    assert response.mimetype == "application/json"
    assert response.get_json()["error_description"]
    assert oauth.snapshot() == before


def test_deeply_nested_json_is_400_not_a_crash(oauth: OAuth) -> None:
    body = "[" * 20_000 + "]" * 20_000
    response = oauth.http.post(
        CLIENTS,
        data=body,
        content_type="application/json",
        headers=oauth.root_headers(),
    )
    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_request"


def test_hostile_scope_names_are_named_safely(oauth: OAuth) -> None:
    response = oauth.http.post(
        CLIENTS,
        json=['x"y', "line\nbreak", "é"],
        headers=oauth.root_headers(),
    )
    assert response.status_code == 422
    description = response.get_json()["error_description"]
    assert '"' not in description and "\n" not in description


def test_answers_carrying_a_secret_are_not_cacheable(oauth: OAuth) -> None:
    headers = oauth.root_headers()
    created = oauth.http.post(CLIENTS, json=["rule:read"], headers=headers)
    assert created.headers["Cache-Control"] == "no-store"
    rotated = oauth.http.post(
        f"{CLIENTS}/{created.get_json()['client_id']}/secret", headers=headers
    )
    assert rotated.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize(
    ("method", "path"),
    [("TRACE", CLIENTS), ("GET", "/api/v1/oauth"), ("GET", "/api/v1/oauth/")],
)
def test_odd_methods_and_bare_paths_answer_json(
    oauth: OAuth, method: str, path: str
) -> None:
    response = oauth.http.open(path, method=method)
    assert response.status_code in (404, 405)
    assert response.mimetype == "application/json"
