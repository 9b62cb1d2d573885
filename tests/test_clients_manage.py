"""Reading and changing clients: list, read, update, rotate, scopes, delete,
and the scope registry (CONTRACT §5.3)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from examples.host_app import HOST_SCOPES
from fides_oauth.scopes import BUILTIN_SCOPES
from tests.conftest import NAMED_SCOPES
from tests.conftest import ROOT_ID
from tests.conftest import OAuth
from tests.conftest import assert_error
from tests.conftest import bearer

CLIENTS = "/api/v1/oauth/client"
TOKEN = "/api/v1/oauth/token"
SCOPES = "/api/v1/oauth/scope"

# Every registered scope: the library's built-ins (it may add more) and the host's.
EVERY_SCOPE = sorted(BUILTIN_SCOPES | set(HOST_SCOPES))
assert set(EVERY_SCOPE) >= NAMED_SCOPES


MALFORMED_IDS = ["nope", "0" * 31, "g" * 32, "x" * 1000, "%00"]


def _assert_4xx(response: Any) -> dict[str, Any]:
    assert 400 <= response.status_code < 500, response.status_code
    return assert_error(response, response.status_code)


def _token_status(oauth: OAuth, client_id: str, secret: str) -> int:
    return oauth.http.post(
        TOKEN, data={"client_id": client_id, "client_secret": secret}
    ).status_code


def _when(value: str) -> datetime:
    return datetime.fromisoformat(value)


# -- GET /oauth/client ---------------------------------------------------------


def test_list_has_the_pagination_shape_and_default_size_50(oauth: OAuth) -> None:
    created = oauth.create_client(["rule:read"])
    response = oauth.http.get(CLIENTS, headers=oauth.root_headers())
    assert response.status_code == 200
    body = response.get_json()
    assert set(body) == {"items", "total", "page", "size", "pages"}
    assert body["page"] == 1
    assert body["size"] == 50
    assert body["total"] == 1
    assert body["pages"] == 1
    assert [item["client_id"] for item in body["items"]] == [created["client_id"]]


def test_list_walks_seven_clients_in_pages_of_three(oauth: OAuth) -> None:
    headers = oauth.root_headers()
    ids = {oauth.create_client(["rule:read"], headers)["client_id"] for _ in range(7)}
    seen: list[str] = []
    for page, expected in [(1, 3), (2, 3), (3, 1)]:
        response = oauth.http.get(
            CLIENTS, query_string={"page": page, "size": 3}, headers=headers
        )
        assert response.status_code == 200
        body = response.get_json()
        assert (body["page"], body["size"], body["total"], body["pages"]) == (
            page,
            3,
            7,
            3,
        )
        assert len(body["items"]) == expected
        seen.extend(item["client_id"] for item in body["items"])
    assert len(seen) == 7 and set(seen) == ids  # no duplicate, none missing


def test_list_order_is_stable_across_requests(oauth: OAuth) -> None:
    headers = oauth.root_headers()
    for _ in range(5):
        oauth.create_client(["rule:read"], headers)

    def walk() -> list[str]:
        ids: list[str] = []
        for page in (1, 2, 3):
            body = oauth.http.get(
                CLIENTS, query_string={"page": page, "size": 2}, headers=headers
            ).get_json()
            ids.extend(item["client_id"] for item in body["items"])
        return ids

    first = walk()
    assert len(first) == 5
    assert walk() == first
    full = oauth.http.get(CLIENTS, headers=headers).get_json()
    assert [item["client_id"] for item in full["items"]] == first


def test_page_beyond_the_end_is_empty(oauth: OAuth) -> None:
    headers = oauth.root_headers()
    for _ in range(2):
        oauth.create_client(["rule:read"], headers)
    response = oauth.http.get(
        CLIENTS, query_string={"page": 5, "size": 2}, headers=headers
    )
    assert response.status_code == 200
    body = response.get_json()
    assert body["items"] == []
    assert body["total"] == 2
    assert body["page"] == 5


def test_size_100_is_accepted(oauth: OAuth) -> None:
    response = oauth.http.get(
        CLIENTS, query_string={"size": 100}, headers=oauth.root_headers()
    )
    assert response.status_code == 200
    assert response.get_json()["size"] == 100


@pytest.mark.parametrize(
    "args",
    [
        {"size": "101"},
        {"size": "0"},
        {"size": "-1"},
        {"size": "ten"},
        {"page": "0"},
        {"page": "-1"},
        {"page": "1.5"},
        {"page": "abc"},
        {"page": ""},
    ],
)
def test_bad_page_or_size_is_a_json_4xx(oauth: OAuth, args: dict[str, str]) -> None:
    response = oauth.http.get(CLIENTS, query_string=args, headers=oauth.root_headers())
    assert response.status_code in (400, 422)
    assert_error(response, response.status_code)


def test_list_shows_no_secret_no_hash_and_not_the_root(oauth: OAuth) -> None:
    headers = oauth.root_headers()
    created = [
        oauth.create_client(["rule:read"], headers, name="a", description="b")
        for _ in range(3)
    ]
    response = oauth.http.get(CLIENTS, headers=headers)
    text = response.get_data(as_text=True)
    for item in created:
        assert item["client_secret"] not in text
    assert "$2" not in text
    body = response.get_json()
    for item in body["items"]:
        assert "client_secret" not in item
        assert not any("secret" in key or "hash" in key for key in item)
    assert ROOT_ID not in [item["client_id"] for item in body["items"]]
    assert body["total"] == 3


def test_list_needs_client_read(oauth: OAuth) -> None:
    _, _, headers = oauth.client_with(["client:create", "client:update", "rule:read"])
    assert_error(oauth.http.get(CLIENTS, headers=headers), 403)
    response = oauth.http.get(CLIENTS)
    assert_error(response, 401)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    _, _, reader = oauth.client_with(["client:read"])
    assert oauth.http.get(CLIENTS, headers=reader).status_code == 200


# -- GET /oauth/client/<id> ----------------------------------------------------


def test_get_client_returns_its_public_fields(oauth: OAuth) -> None:
    created = oauth.create_client(
        ["rule:read", "policy:read"], name="reporting", description="nightly job"
    )
    response = oauth.http.get(
        f"{CLIENTS}/{created['client_id']}", headers=oauth.root_headers()
    )
    assert response.status_code == 200
    body = response.get_json()
    assert {
        "client_id",
        "name",
        "description",
        "scopes",
        "created_at",
        "updated_at",
    } <= set(body)
    assert body["client_id"] == created["client_id"]
    assert body["name"] == "reporting"
    assert body["description"] == "nightly job"
    assert sorted(body["scopes"]) == ["policy:read", "rule:read"]
    assert _when(body["updated_at"]) >= _when(body["created_at"])
    text = response.get_data(as_text=True)
    assert created["client_secret"] not in text and "$2" not in text


@pytest.mark.parametrize("client_id", ["0" * 32, ROOT_ID, *MALFORMED_IDS])
def test_get_unknown_root_or_malformed_id_is_json_404(
    oauth: OAuth, client_id: str
) -> None:
    response = oauth.http.get(f"{CLIENTS}/{client_id}", headers=oauth.root_headers())
    assert_error(response, 404)


def test_get_client_needs_client_read(oauth: OAuth) -> None:
    target = oauth.create_client(["rule:read"])
    _, _, headers = oauth.client_with(["client:update", "rule:read"])
    url = f"{CLIENTS}/{target['client_id']}"
    assert_error(oauth.http.get(url, headers=headers), 403)
    assert_error(oauth.http.get(url), 401)


# -- PUT /oauth/client/<id> ----------------------------------------------------


def test_update_changes_only_the_fields_given(oauth: OAuth) -> None:
    headers = oauth.root_headers()
    created = oauth.create_client(
        ["rule:read"], headers, name="old", description="keep"
    )
    url = f"{CLIENTS}/{created['client_id']}"
    before = oauth.http.get(url, headers=headers).get_json()

    response = oauth.http.put(url, json={"name": "new"}, headers=headers)
    assert response.status_code == 200
    after = oauth.http.get(url, headers=headers).get_json()
    assert after["name"] == "new"
    assert after["description"] == "keep"
    assert after["scopes"] == ["rule:read"]
    assert after["created_at"] == before["created_at"]
    assert _when(after["updated_at"]) >= _when(before["updated_at"])
    assert _when(after["updated_at"]) >= _when(after["created_at"])
    assert response.get_json()["name"] == "new"

    oauth.http.put(url, json={"description": "changed"}, headers=headers)
    after = oauth.http.get(url, headers=headers).get_json()
    assert (after["name"], after["description"], after["scopes"]) == (
        "new",
        "changed",
        ["rule:read"],
    )

    oauth.http.put(url, json={"scopes": ["policy:read", "rule:read"]}, headers=headers)
    after = oauth.http.get(url, headers=headers).get_json()
    assert (after["name"], after["description"]) == ("new", "changed")
    assert sorted(after["scopes"]) == ["policy:read", "rule:read"]


def test_update_does_not_change_the_secret(oauth: OAuth) -> None:
    created = oauth.create_client(["rule:read"])
    response = oauth.http.put(
        f"{CLIENTS}/{created['client_id']}",
        json={"name": "x", "scopes": ["policy:read"]},
        headers=oauth.root_headers(),
    )
    assert response.status_code == 200
    assert "client_secret" not in response.get_json()
    assert _token_status(oauth, created["client_id"], created["client_secret"]) == 200


def test_update_with_unknown_scope_is_422_naming_it(oauth: OAuth) -> None:
    created = oauth.create_client(["rule:read"])
    before = oauth.snapshot()
    response = oauth.http.put(
        f"{CLIENTS}/{created['client_id']}",
        json={"scopes": ["rule:read", "no:such"], "name": "x"},
        headers=oauth.root_headers(),
    )
    body = assert_error(response, 422)
    assert "no:such" in body["error_description"]
    assert oauth.snapshot() == before


def test_update_granting_a_scope_the_caller_lacks_is_403_naming_it(
    oauth: OAuth,
) -> None:
    target = oauth.create_client(["rule:read"])
    _, _, headers = oauth.client_with(["client:update", "rule:read"])
    before = oauth.snapshot()
    response = oauth.http.put(
        f"{CLIENTS}/{target['client_id']}",
        json={"scopes": ["rule:read", "policy:read"]},
        headers=headers,
    )
    body = assert_error(response, 403)
    assert "policy:read" in body["error_description"]
    assert "rule:read" not in body["error_description"]
    assert oauth.snapshot() == before


def test_update_of_a_stronger_client_is_403_and_changes_nothing(oauth: OAuth) -> None:
    target = oauth.create_client(["rule:read", "policy:read"], name="strong")
    _, _, headers = oauth.client_with(["client:update", "rule:read"])
    before = oauth.snapshot()
    # Even a change that grants nothing new, or takes scopes away.
    bodies: list[dict[str, Any]] = [
        {"name": "mine now"},
        {"scopes": ["rule:read"]},
        {"scopes": []},
    ]
    for body in bodies:
        response = oauth.http.put(
            f"{CLIENTS}/{target['client_id']}", json=body, headers=headers
        )
        error = assert_error(response, 403)
        assert "policy:read" in error["error_description"]
    assert oauth.snapshot() == before


def test_update_within_the_callers_scopes_is_allowed(oauth: OAuth) -> None:
    target = oauth.create_client(["rule:read"])
    _, _, headers = oauth.client_with(["client:update", "rule:read", "policy:read"])
    response = oauth.http.put(
        f"{CLIENTS}/{target['client_id']}",
        json={"scopes": ["policy:read"]},
        headers=headers,
    )
    assert response.status_code == 200
    assert response.get_json()["scopes"] == ["policy:read"]


def test_update_needs_client_update(oauth: OAuth) -> None:
    target = oauth.create_client(["rule:read"])
    _, _, headers = oauth.client_with(["client:read", "client:create", "rule:read"])
    url = f"{CLIENTS}/{target['client_id']}"
    before = oauth.snapshot()
    assert_error(oauth.http.put(url, json={"name": "x"}, headers=headers), 403)
    assert_error(oauth.http.put(url, json={"name": "x"}), 401)
    assert oauth.snapshot() == before


@pytest.mark.parametrize("client_id", ["0" * 32, ROOT_ID, *MALFORMED_IDS])
def test_update_of_unknown_root_or_malformed_id_is_404(
    oauth: OAuth, client_id: str
) -> None:
    oauth.create_client(["rule:read"])
    before = oauth.snapshot()
    response = oauth.http.put(
        f"{CLIENTS}/{client_id}", json={"name": "x"}, headers=oauth.root_headers()
    )
    assert_error(response, 404)
    assert oauth.snapshot() == before


@pytest.mark.parametrize(
    "body",
    [
        ["rule:read"],
        "name",
        {"name": 5},
        {"scopes": "rule:read"},
        {"nope": 1},
        {"scopes": [1]},
    ],
)
def test_update_with_a_bad_body_is_4xx_and_changes_nothing(
    oauth: OAuth, body: Any
) -> None:
    target = oauth.create_client(["rule:read"], name="n")
    before = oauth.snapshot()
    response = oauth.http.put(
        f"{CLIENTS}/{target['client_id']}", json=body, headers=oauth.root_headers()
    )
    _assert_4xx(response)
    assert oauth.snapshot() == before


def test_update_with_a_non_json_body_is_4xx(oauth: OAuth) -> None:
    target = oauth.create_client(["rule:read"])
    before = oauth.snapshot()
    url = f"{CLIENTS}/{target['client_id']}"
    headers = oauth.root_headers()
    response = oauth.http.put(url, data="name=x", headers=headers)
    assert response.status_code in (400, 415, 422)
    _assert_4xx(response)
    response = oauth.http.put(
        url, data="{not json", content_type="application/json", headers=headers
    )
    assert response.status_code in (400, 422)
    _assert_4xx(response)
    assert oauth.snapshot() == before


# -- POST /oauth/client/<id>/secret --------------------------------------------


def test_rotation_returns_a_new_secret_and_retires_the_old(oauth: OAuth) -> None:
    created = oauth.create_client(["rule:read"])
    client_id, old = created["client_id"], created["client_secret"]
    headers = oauth.root_headers()
    response = oauth.http.post(f"{CLIENTS}/{client_id}/secret", headers=headers)
    assert response.status_code == 200
    body = response.get_json()
    new = body["client_secret"]
    assert isinstance(new, str) and new and new != old
    assert body["client_id"] == client_id
    assert _token_status(oauth, client_id, old) == 401
    assert _token_status(oauth, client_id, new) == 200
    for url in (CLIENTS, f"{CLIENTS}/{client_id}", f"{CLIENTS}/{client_id}/scope"):
        text = oauth.http.get(url, headers=headers).get_data(as_text=True)
        assert new not in text and old not in text and "$2" not in text


def test_rotating_twice_gives_distinct_secrets(oauth: OAuth) -> None:
    created = oauth.create_client(["rule:read"])
    headers = oauth.root_headers()
    url = f"{CLIENTS}/{created['client_id']}/secret"
    first = oauth.http.post(url, headers=headers).get_json()["client_secret"]
    second = oauth.http.post(url, headers=headers).get_json()["client_secret"]
    assert first != second
    assert _token_status(oauth, created["client_id"], first) == 401
    assert _token_status(oauth, created["client_id"], second) == 200


def test_weaker_caller_cannot_rotate_a_stronger_clients_secret(oauth: OAuth) -> None:
    # Fides lets any client:update holder rotate any secret and log in as it.
    target = oauth.create_client(["client:create", "rule:read", "policy:read"])
    _, _, headers = oauth.client_with(["client:update", "rule:read"])
    before = oauth.snapshot()
    response = oauth.http.post(
        f"{CLIENTS}/{target['client_id']}/secret", headers=headers
    )
    body = assert_error(response, 403)
    assert "client_secret" not in body
    assert "client:create" in body["error_description"]
    assert oauth.snapshot() == before
    assert _token_status(oauth, target["client_id"], target["client_secret"]) == 200


def test_rotation_needs_client_update(oauth: OAuth) -> None:
    target = oauth.create_client(["rule:read"])
    _, _, headers = oauth.client_with(["client:read", "client:create", "rule:read"])
    url = f"{CLIENTS}/{target['client_id']}/secret"
    before = oauth.snapshot()
    assert_error(oauth.http.post(url, headers=headers), 403)
    assert_error(oauth.http.post(url), 401)
    assert oauth.snapshot() == before
    assert _token_status(oauth, target["client_id"], target["client_secret"]) == 200


@pytest.mark.parametrize("client_id", ["0" * 32, ROOT_ID, *MALFORMED_IDS])
def test_rotation_of_unknown_root_or_malformed_id_is_404(
    oauth: OAuth, client_id: str
) -> None:
    response = oauth.http.post(
        f"{CLIENTS}/{client_id}/secret", headers=oauth.root_headers()
    )
    body = assert_error(response, 404)
    assert "client_secret" not in body


# -- GET/PUT /oauth/client/<id>/scope ------------------------------------------


def test_get_scopes_is_a_json_array(oauth: OAuth) -> None:
    created = oauth.create_client(["rule:read", "policy:read"])
    response = oauth.http.get(
        f"{CLIENTS}/{created['client_id']}/scope", headers=oauth.root_headers()
    )
    assert response.status_code == 200
    assert response.get_json() == ["policy:read", "rule:read"]


def test_get_scopes_needs_client_read(oauth: OAuth) -> None:
    created = oauth.create_client(["rule:read"])
    _, _, headers = oauth.client_with(["client:update", "rule:read"])
    url = f"{CLIENTS}/{created['client_id']}/scope"
    assert_error(oauth.http.get(url, headers=headers), 403)
    assert_error(oauth.http.get(url), 401)


def test_put_scopes_replaces_them(oauth: OAuth) -> None:
    created = oauth.create_client(["rule:read", "policy:read"], name="n")
    url = f"{CLIENTS}/{created['client_id']}/scope"
    headers = oauth.root_headers()
    response = oauth.http.put(url, json=["rule:create_or_update"], headers=headers)
    assert response.status_code == 200
    assert response.get_json() == ["rule:create_or_update"]
    assert oauth.http.get(url, headers=headers).get_json() == ["rule:create_or_update"]
    detail = oauth.http.get(f"{CLIENTS}/{created['client_id']}", headers=headers)
    assert detail.get_json()["name"] == "n"
    # A new token carries the new scopes only.
    token = oauth.http.post(
        TOKEN,
        data={
            "client_id": created["client_id"],
            "client_secret": created["client_secret"],
        },
    )
    assert token.get_json()["scope"] == "rule:create_or_update"
    assert oauth.http.put(url, json=[], headers=headers).get_json() == []


def test_put_scopes_beyond_the_caller_is_403(oauth: OAuth) -> None:
    target = oauth.create_client(["rule:read"])
    _, _, headers = oauth.client_with(["client:update", "rule:read"])
    before = oauth.snapshot()
    response = oauth.http.put(
        f"{CLIENTS}/{target['client_id']}/scope",
        json=["rule:read", "policy:read"],
        headers=headers,
    )
    body = assert_error(response, 403)
    assert "policy:read" in body["error_description"]
    assert oauth.snapshot() == before


def test_put_scopes_on_a_stronger_client_is_403(oauth: OAuth) -> None:
    target = oauth.create_client(["rule:read", "policy:read"])
    _, _, headers = oauth.client_with(["client:update", "rule:read"])
    before = oauth.snapshot()
    response = oauth.http.put(
        f"{CLIENTS}/{target['client_id']}/scope", json=["rule:read"], headers=headers
    )
    body = assert_error(response, 403)
    assert "policy:read" in body["error_description"]
    assert oauth.snapshot() == before


def test_put_scopes_within_both_is_allowed(oauth: OAuth) -> None:
    target = oauth.create_client(["rule:read"])
    _, _, headers = oauth.client_with(["client:update", "rule:read", "policy:read"])
    response = oauth.http.put(
        f"{CLIENTS}/{target['client_id']}/scope",
        json=["policy:read", "rule:read"],
        headers=headers,
    )
    assert response.status_code == 200
    assert response.get_json() == ["policy:read", "rule:read"]


def test_put_scopes_unknown_is_422_naming_it(oauth: OAuth) -> None:
    target = oauth.create_client(["rule:read"])
    before = oauth.snapshot()
    response = oauth.http.put(
        f"{CLIENTS}/{target['client_id']}/scope",
        json=["rule:read", "made:up"],
        headers=oauth.root_headers(),
    )
    body = assert_error(response, 422)
    assert "made:up" in body["error_description"]
    assert oauth.snapshot() == before


@pytest.mark.parametrize(
    "body", [{"scopes": ["rule:read"]}, "rule:read", None, 5, [["rule:read"]], [None]]
)
def test_put_scopes_body_not_an_array_of_names_is_4xx(oauth: OAuth, body: Any) -> None:
    target = oauth.create_client(["rule:read"])
    before = oauth.snapshot()
    response = oauth.http.put(
        f"{CLIENTS}/{target['client_id']}/scope",
        json=body,
        headers=oauth.root_headers(),
    )
    _assert_4xx(response)
    assert oauth.snapshot() == before


def test_put_scopes_needs_client_update(oauth: OAuth) -> None:
    target = oauth.create_client(["rule:read"])
    _, _, headers = oauth.client_with(["client:read", "rule:read"])
    url = f"{CLIENTS}/{target['client_id']}/scope"
    before = oauth.snapshot()
    assert_error(oauth.http.put(url, json=[], headers=headers), 403)
    assert_error(oauth.http.put(url, json=[]), 401)
    assert oauth.snapshot() == before


@pytest.mark.parametrize("client_id", ["0" * 32, ROOT_ID, *MALFORMED_IDS])
def test_scope_routes_of_unknown_root_or_malformed_id_are_404(
    oauth: OAuth, client_id: str
) -> None:
    headers = oauth.root_headers()
    before = oauth.snapshot()
    assert_error(oauth.http.get(f"{CLIENTS}/{client_id}/scope", headers=headers), 404)
    assert_error(
        oauth.http.put(f"{CLIENTS}/{client_id}/scope", json=[], headers=headers), 404
    )
    assert oauth.snapshot() == before


# -- DELETE /oauth/client/<id> -------------------------------------------------


def test_delete_removes_the_client_and_its_credentials(oauth: OAuth) -> None:
    created = oauth.create_client(["rule:read"])
    victim_headers = bearer(oauth.token(created["client_id"], created["client_secret"]))
    headers = oauth.root_headers()
    url = f"{CLIENTS}/{created['client_id']}"
    response = oauth.http.delete(url, headers=headers)
    assert response.status_code in (200, 204)
    assert_error(oauth.http.get(url, headers=headers), 404)
    assert _token_status(oauth, created["client_id"], created["client_secret"]) == 401
    # A token issued before the deletion stops working (§5.4).
    assert_error(
        oauth.http.get("/api/v1/rule", headers=victim_headers), 401, "invalid_token"
    )
    assert oauth.snapshot() == []
    assert_error(oauth.http.delete(url, headers=headers), 404)


def test_delete_leaves_other_clients_alone(oauth: OAuth) -> None:
    headers = oauth.root_headers()
    keep = oauth.create_client(["rule:read"], headers)
    gone = oauth.create_client(["rule:read"], headers)
    oauth.http.delete(f"{CLIENTS}/{gone['client_id']}", headers=headers)
    assert [row[0] for row in oauth.snapshot()] == [keep["client_id"]]
    assert _token_status(oauth, keep["client_id"], keep["client_secret"]) == 200


def test_weaker_caller_cannot_delete_a_stronger_client(oauth: OAuth) -> None:
    target = oauth.create_client(["rule:read", "policy:read"])
    _, _, headers = oauth.client_with(["client:delete", "rule:read"])
    before = oauth.snapshot()
    response = oauth.http.delete(f"{CLIENTS}/{target['client_id']}", headers=headers)
    body = assert_error(response, 403)
    assert "policy:read" in body["error_description"]
    assert oauth.snapshot() == before
    assert (
        oauth.http.get(
            f"{CLIENTS}/{target['client_id']}", headers=oauth.root_headers()
        ).status_code
        == 200
    )


def test_delete_needs_client_delete(oauth: OAuth) -> None:
    target = oauth.create_client(["rule:read"])
    _, _, headers = oauth.client_with(["client:read", "client:update", "rule:read"])
    url = f"{CLIENTS}/{target['client_id']}"
    before = oauth.snapshot()
    assert_error(oauth.http.delete(url, headers=headers), 403)
    assert_error(oauth.http.delete(url), 401)
    assert oauth.snapshot() == before


@pytest.mark.parametrize("client_id", ["0" * 32, ROOT_ID, *MALFORMED_IDS])
def test_delete_of_unknown_root_or_malformed_id_is_404(
    oauth: OAuth, client_id: str
) -> None:
    oauth.create_client(["rule:read"])
    before = oauth.snapshot()
    response = oauth.http.delete(f"{CLIENTS}/{client_id}", headers=oauth.root_headers())
    assert_error(response, 404)
    assert oauth.snapshot() == before


def test_root_still_works_after_a_delete_attempt_on_it(oauth: OAuth) -> None:
    oauth.http.delete(f"{CLIENTS}/{ROOT_ID}", headers=oauth.root_headers())
    assert oauth.http.get(SCOPES, headers=oauth.root_headers()).status_code == 200


# -- GET /oauth/scope ----------------------------------------------------------


def test_scope_list_is_every_registered_scope_sorted(oauth: OAuth) -> None:
    response = oauth.http.get(SCOPES, headers=oauth.root_headers())
    assert response.status_code == 200
    assert response.get_json() == EVERY_SCOPE


def test_scope_list_needs_scope_read(oauth: OAuth) -> None:
    _, _, headers = oauth.client_with(["client:read", "rule:read"])
    assert_error(oauth.http.get(SCOPES, headers=headers), 403)
    assert_error(oauth.http.get(SCOPES), 401)
    _, _, reader = oauth.client_with(["scope:read"])
    response = oauth.http.get(SCOPES, headers=reader)
    assert response.status_code == 200
    assert response.get_json() == EVERY_SCOPE


# -- every route: auth errors are JSON -----------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", ""),
        ("GET", "/{id}"),
        ("PUT", "/{id}"),
        ("DELETE", "/{id}"),
        ("POST", "/{id}/secret"),
        ("GET", "/{id}/scope"),
        ("PUT", "/{id}/scope"),
    ],
)
def test_every_client_route_refuses_bad_tokens_with_json(
    oauth: OAuth, method: str, path: str
) -> None:
    target = oauth.create_client(["rule:read"])
    _, _, unrelated = oauth.client_with(["rule:read", "policy:read"])
    url = CLIENTS + path.format(id=target["client_id"])
    before = oauth.snapshot()
    for headers, status in [
        ({}, 401),
        (bearer("not-a-token"), 401),
        ({"Authorization": "Basic Zm9vOmJhcg=="}, 401),
    ]:
        response = oauth.http.open(
            url,
            method=method,
            json={"name": "x"} if method == "PUT" and path == "/{id}" else [],
            headers=headers,
        )
        assert_error(response, status)
    response = oauth.http.open(url, method=method, json=[], headers=unrelated)
    assert_error(response, 403, "insufficient_scope")
    assert oauth.snapshot() == before


def test_token_of_a_client_without_scopes_is_valid_but_insufficient(
    oauth: OAuth,
) -> None:
    # scopes [] is allowed at creation (§5.2); its token is valid, just weak.
    _, _, nothing = oauth.client_with([])
    for method, url in [("GET", CLIENTS), ("GET", SCOPES), ("GET", "/api/v1/rule")]:
        response = oauth.http.open(url, method=method, headers=nothing)
        assert_error(response, 403, "insufficient_scope")
