"""The OpenAPI document at GET /oauth/openapi.json: valid, complete, true.

Valid: OpenAPI 3.1 by openapi-spec-validator. Complete: its (path, method)
pairs are exactly the blueprint's routes, so a route added without being
documented fails here. True: the scopes it names are the ones the routes
require, and a bounded Schemathesis run against a live server finds no 5xx
and no answer the document does not describe.
"""

from __future__ import annotations

import re
import zlib
from collections import Counter
from collections.abc import Callable
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import schemathesis
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings
from hypothesis.errors import Unsatisfiable
from openapi_spec_validator import validate
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.core.failures import FailureGroup
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import content_type_conformance
from schemathesis.specs.openapi.checks import response_headers_conformance
from schemathesis.specs.openapi.checks import response_schema_conformance
from schemathesis.specs.openapi.checks import status_code_conformance

from fides_oauth import drop_tables
from tests.conftest import ROOT_ID
from tests.conftest import ROOT_SECRET
from tests.conftest import OAuth
from tests.conftest import bearer

PREFIX = "/api/v1"
DOC_URL = PREFIX + "/oauth/openapi.json"
_HTTP_METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}


@pytest.fixture
def app(make_app: Callable[..., Flask]) -> Flask:
    """The reference host, with a failure limit the fuzzer cannot reach.

    The Schemathesis run makes hundreds of failed authentications from one
    address; at the default limit (10 a minute) the standard endpoints would
    answer nothing but 429 after the first few.
    """
    return make_app(FIDES_OAUTH_AUTH_FAILURE_LIMIT=100_000)


def _document(http: FlaskClient, url: str = DOC_URL) -> dict[str, Any]:
    response = http.get(url)
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    return dict(response.get_json())


def _operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method in _HTTP_METHODS:
                yield path, method.upper(), operation


def _url_map_routes(app: Flask, blueprint: str = "fides_oauth") -> set[tuple[str, str]]:
    routes = set()
    for rule in app.url_map.iter_rules():
        endpoint = rule.endpoint
        if not endpoint.startswith(blueprint + "."):
            continue
        name = endpoint.removeprefix(blueprint + ".")
        if name == "not_found" or name.startswith("method_not_allowed_"):
            continue  # the blueprint's JSON 404/405 fallbacks
        if name.startswith("admin_"):
            continue  # the admin page's HTML, not the JSON API
        path = re.sub(r"<(?:[^<>:]+:)?([^<>]+)>", r"{\1}", rule.rule)
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}:
            routes.add((path, method))
    return routes


def test_document_is_valid_openapi_3_1(client: FlaskClient) -> None:
    document = _document(client)
    assert document["openapi"] == "3.1.0"
    validate(document)


def test_document_needs_no_token_and_is_json(client: FlaskClient) -> None:
    response = client.get(DOC_URL)
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert client.post(DOC_URL).status_code == 405


def test_document_lists_exactly_the_blueprints_routes(
    app: Flask, client: FlaskClient
) -> None:
    documented = {(path, method) for path, method, _ in _operations(_document(client))}
    routes = _url_map_routes(app)
    assert (PREFIX + "/oauth/openapi.json", "GET") in routes
    assert documented == routes, (
        f"undocumented: {sorted(routes - documented)}; "
        f"documented but not served: {sorted(documented - routes)}"
    )


def test_every_registered_scope_is_in_the_oauth2_flow(
    app: Flask, client: FlaskClient
) -> None:
    document = _document(client)
    schemes = document["components"]["securitySchemes"]
    flow = schemes["oauth2"]["flows"]["clientCredentials"]
    registry = app.extensions["fides_oauth"].core.registry
    assert set(flow["scopes"]) == set(registry.all)
    assert {"policy:read", "rule:create_or_update", "token:introspect"} <= set(
        flow["scopes"]
    )
    assert flow["tokenUrl"] == PREFIX + "/oauth/token"
    assert schemes["bearer"] == schemes["bearer"] | {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
    }
    assert schemes["basic"]["scheme"] == "basic"
    for _, _, operation in _operations(document):
        for requirement in operation["security"]:
            for scopes in requirement.values():
                assert set(scopes) <= set(registry.all)


def test_prefix_and_scopes_follow_the_app(
    make_plain_app: Callable[..., Flask],
) -> None:
    app = make_plain_app(prefix="/custom")
    document = _document(app.test_client(), "/custom/oauth/openapi.json")
    validate(document)
    assert document["paths"]
    assert all(path.startswith("/custom/oauth/") for path in document["paths"])
    assert _url_map_routes(app) == {(p, m) for p, m, _ in _operations(document)}
    flow = document["components"]["securitySchemes"]["oauth2"]["flows"]
    assert flow["clientCredentials"]["tokenUrl"] == "/custom/oauth/token"
    assert "report:read" in flow["clientCredentials"]["scopes"]
    assert "policy:read" not in flow["clientCredentials"]["scopes"]


def _concrete(path: str) -> str:
    return path.replace("{client_id}", "0" * 32)


def test_documented_scopes_are_the_ones_each_route_requires(
    client: FlaskClient, oauth: OAuth
) -> None:
    """A token without scopes is refused on every scoped route, and the
    challenge names exactly the scopes the document names."""
    _, _, headers = oauth.client_with([])
    scoped = 0
    for path, method, operation in _operations(_document(client)):
        security = operation["security"]
        required = {tuple(scopes) for r in security for scopes in r.values()}
        if security in ([], [{"basic": []}, {}]):
            continue  # public, or client authentication: no bearer scope
        assert {next(iter(r)) for r in security} == {"bearer", "dpop", "oauth2"}
        assert len(required) == 1, (method, path, security)
        (scopes,) = required
        response = client.open(_concrete(path), method=method, headers=headers)
        assert response.status_code == 403, (method, path)
        assert response.get_json()["error"] == "insufficient_scope"
        assert f'scope="{" ".join(scopes)}"' in response.headers["WWW-Authenticate"]
        scoped += 1
    assert scoped == 10


def test_unscoped_routes_answer_without_a_token(client: FlaskClient) -> None:
    for path, method, operation in _operations(_document(client)):
        if operation["security"] == []:
            assert client.open(path, method=method).status_code == 200, path


def _conforms(schema: Any, path: str, method: str, response: Any) -> None:
    """The status is documented for the operation and the body matches it."""
    operation = schema[path][method]
    assert str(response.status_code) in operation.definition.raw["responses"]
    operation.validate_response(response)


def test_rate_limit_and_storage_failures_are_documented(
    make_app: Callable[..., Flask],
) -> None:
    """429 and 503, which the fuzzer does not reach, answer as documented."""
    app = make_app()  # the default failure limit: 10 a minute
    http = app.test_client()
    schema = schemathesis.openapi.from_dict(_document(http))
    token_url = PREFIX + "/oauth/token"
    wrong = {"client_id": ROOT_ID, "client_secret": "wrong"}
    for _ in range(10):
        _conforms(schema, token_url, "POST", http.post(token_url, data=wrong))
    for path in (token_url, PREFIX + "/oauth/revoke", PREFIX + "/oauth/introspect"):
        limited = http.post(path, data=wrong | {"token": "x"})
        assert limited.status_code == 429
        assert int(limited.headers["Retry-After"]) >= 1
        _conforms(schema, path, "POST", limited)

    other = make_app()
    http = other.test_client()
    headers = OAuth(other, http).root_headers()
    drop_tables(other)  # the storage is gone
    for method, path in (("GET", "/oauth/scope"), ("GET", "/oauth/client")):
        response = http.open(PREFIX + path, method=method, headers=headers)
        assert response.status_code == 503
        _conforms(schema, PREFIX + path, method, response)
    failed = http.post(token_url, data={"client_id": ROOT_ID, "client_secret": "x"})
    assert failed.status_code == 503
    _conforms(schema, token_url, "POST", failed)


# -- bugs the Schemathesis run turned up, fixed --------------------------------


def test_options_advertises_only_the_methods_served(client: FlaskClient) -> None:
    response = client.options(PREFIX + "/oauth/token")
    allowed = {m.strip() for m in response.headers["Allow"].split(",")}
    assert allowed - {"OPTIONS"} == {"POST"}


def test_rotation_refuses_a_null_body(client: FlaskClient, oauth: OAuth) -> None:
    created = oauth.create_client(["policy:read"])
    before = oauth.snapshot()
    response = client.post(
        PREFIX + f"/oauth/client/{created['client_id']}/secret",
        data="null",
        content_type="application/json",
        headers=oauth.root_headers(),
    )
    assert response.status_code == 422
    assert oauth.snapshot() == before


# -- Schemathesis against a live server ---------------------------------------


class _Targets:
    """Real clients for the fuzzer's path ids, re-created once deleted."""

    def __init__(self, base_url: str, token: str, count: int = 3) -> None:
        self.base_url = base_url
        self.headers = bearer(token)
        self.ids = [self._create() for _ in range(count)]

    def _create(self) -> str:
        response = requests.post(
            self.base_url + PREFIX + "/oauth/client",
            json={"scopes": ["policy:read"], "name": "fuzz target"},
            headers=self.headers,
            timeout=10,
        )
        assert response.status_code == 200, response.text
        return str(response.json()["client_id"])

    def pick(self, generated: str) -> str | None:
        """A real id for two generated ids in three (chosen by the id itself,
        so that Hypothesis replays a case as it ran)."""
        digest = zlib.crc32(generated.encode("utf-8", "surrogatepass"))
        return self.ids[digest // 3 % len(self.ids)] if digest % 3 else None

    def deleted(self, client_id: str) -> None:
        if client_id in self.ids:
            self.ids[self.ids.index(client_id)] = self._create()


@pytest.fixture
def root_token(live_server: str) -> str:
    # Tokens are bound to the issuer host: get one from the live server.
    response = requests.post(
        live_server + PREFIX + "/oauth/token",
        data={"client_id": ROOT_ID, "client_secret": ROOT_SECRET},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


@pytest.fixture
def targets(live_server: str, root_token: str) -> _Targets:
    return _Targets(live_server, root_token)


def _load_schema(live_server: str, root_token: str) -> Any:
    config = SchemathesisConfig.from_dict(
        {
            "auth": {
                "openapi": {
                    "bearer": {"bearer": root_token},
                    "basic": {"username": ROOT_ID, "password": ROOT_SECRET},
                }
            },
        }
    )
    return schemathesis.openapi.from_url(live_server + DOC_URL, config=config)


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
EXAMPLES_PER_MODE = 10


def test_live_server_answers_as_documented(
    app: Flask, live_server: str, root_token: str, targets: _Targets
) -> None:
    """Schemathesis, positive and negative cases for every operation: no 5xx,
    and every answer's status, media type, headers and body as documented.

    (The schema is loaded from the live server inside the test, and each
    operation run with Schemathesis' Hypothesis strategies: its lazy
    ``from_fixture`` loader does not run on pytest 9.)
    """
    schema = _load_schema(live_server, root_token)
    operations = [result.ok() for result in schema.get_all_operations()]
    # Every documented operation but the document itself, which Schemathesis
    # leaves out (the other tests cover it).
    assert len(operations) == len(_url_map_routes(app)) - 1 == 14
    statuses: dict[str, Counter[int]] = {op.label: Counter() for op in operations}
    failures: list[str] = []

    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(
                max_examples=EXAMPLES_PER_MODE,
                deadline=None,
                database=None,
                suppress_health_check=list(HealthCheck),
            )
            def run(case: Any) -> None:
                client_id = (case.path_parameters or {}).get("client_id")
                real = targets.pick(client_id) if isinstance(client_id, str) else None
                if real is not None:
                    case.path_parameters["client_id"] = real
                response = case.call_and_validate(checks=CHECKS, timeout=10)
                statuses[case.operation.label][response.status_code] += 1
                if real is not None and response.status_code == 204:
                    targets.deleted(real)

            try:
                run()
            except Unsatisfiable:
                assert mode is GenerationMode.NEGATIVE  # nothing to negate
            except (AssertionError, FailureGroup) as exc:  # reported below
                failures.append(f"{operation.label} ({mode.value}):\n{exc}")

    assert not failures, "\n\n".join(failures)
    # Every operation was reached with credentials that work, at least once.
    unanswered = [
        label
        for label, seen in statuses.items()
        if not any(200 <= status < 300 for status in seen)
    ]
    assert not unanswered, statuses
