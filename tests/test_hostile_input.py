"""Bad input of any kind gets a 4xx JSON answer and changes nothing (CONTRACT §6).

Every route of the blueprint, fed malformed, mistyped, oversized and odd
input: the answer is a 4xx with an RFC 6749 §5.2 JSON body, and the client
table is exactly as it was. The property tests at the end throw generated
input at the same routes.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import ROOT_ID
from tests.conftest import ROOT_SECRET
from tests.conftest import OAuth
from tests.conftest import basic
from tests.conftest import bearer

TOKEN = "/oauth/token"
# (method, path, a body with which the root client succeeds)
ROUTES: list[tuple[str, str, Any]] = [
    ("POST", "/oauth/client", ["rule:read"]),
    ("GET", "/oauth/client", None),
    ("GET", "/oauth/client/{id}", None),
    ("PUT", "/oauth/client/{id}", {"name": "renamed"}),
    ("DELETE", "/oauth/client/{id}", None),
    ("POST", "/oauth/client/{id}/secret", {"grace_seconds": 60}),
    ("POST", "/oauth/client/{id}/revoke-tokens", None),
    ("GET", "/oauth/client/{id}/scope", None),
    ("PUT", "/oauth/client/{id}/scope", ["policy:read"]),
    ("GET", "/oauth/scope", None),
]
CLIENT_ROUTES = [route for route in ROUTES if "{id}" in route[1]]
JSON_ROUTES = [route for route in ROUTES if route[2] is not None]
WRITE_ROUTES = [route for route in ROUTES if route[0] != "GET"]


def _ids(routes: list[tuple[str, str, Any]]) -> list[str]:
    return [f"{method} {path}" for method, path, _ in routes]


def _answer(oauth: OAuth, method: str, path: str, note: str = "", **kwargs: Any) -> Any:
    """Send a request: never a 5xx, always JSON, and a 4xx carries an error
    body and leaves the client table as it was."""
    case = f"{method} {path[:80]} {note}"
    before = oauth.snapshot()
    response = oauth.http.open(oauth.url(path), method=method, **kwargs)
    assert response.status_code < 500, (case, response.get_data()[:300])
    assert response.mimetype == "application/json", (case, response.get_data()[:300])
    if response.status_code >= 400:
        body = response.get_json()
        assert isinstance(body["error"], str) and body["error"], case
        assert isinstance(body["error_description"], str), case
        assert body["error_description"], case
        assert oauth.snapshot() == before, f"{case}: a refused request wrote"
    return response


def _refused(
    oauth: OAuth,
    method: str,
    path: str,
    statuses: set[int],
    note: str = "",
    **kwargs: Any,
) -> Any:
    response = _answer(oauth, method, path, note, **kwargs)
    assert response.status_code in statuses, (method, path[:80], note, response.json)
    return response


def _raw_json(text: str | bytes, headers: dict[str, str]) -> dict[str, Any]:
    return {"data": text, "content_type": "application/json", "headers": headers}


@pytest.fixture
def root(oauth: OAuth) -> dict[str, str]:
    return oauth.root_headers()


@pytest.fixture
def target_client(oauth: OAuth, root: dict[str, str]) -> dict[str, Any]:
    """A stored client holding rule:read, which routes with {id} aim at."""
    return oauth.create_client(["rule:read"], headers=root, name="target")


@pytest.fixture
def target(target_client: dict[str, Any]) -> str:
    return str(target_client["client_id"])


# -- bodies that are not JSON ---------------------------------------------------

MALFORMED = {
    "truncated": '{"scopes": [',
    "trailing-garbage": '["rule:read"] x',
    "single-quotes": "['rule:read']",
    "trailing-nul": '["rule:read"]\x00',
    "bare-word": "rule:read",
    "non-utf8-bytes": b'["rule:read\xff\xfe"]',
    "latin1-name": b'{"scopes": [], "name": "caf\xe9"}',
    "nested-30000-deep": "[" * 30_000 + "]" * 30_000,
    "nested-30000-deep-in-object": '{"scopes": ' + "[" * 30_000 + "]" * 30_000 + "}",
}


@pytest.mark.parametrize("body", MALFORMED.values(), ids=MALFORMED.keys())
def test_body_that_is_not_json_is_400_and_changes_nothing(
    oauth: OAuth, root: dict[str, str], target: str, body: str | bytes
) -> None:
    for method, path, _ in JSON_ROUTES:
        _refused(oauth, method, path.format(id=target), {400}, **_raw_json(body, root))


def test_empty_json_body_is_400_where_a_body_is_required(
    oauth: OAuth, root: dict[str, str], target: str
) -> None:
    for method, path, _ in JSON_ROUTES:
        if path.endswith("/secret"):  # the rotation body is optional
            continue
        _refused(oauth, method, path.format(id=target), {400}, **_raw_json("", root))


@pytest.mark.parametrize(("method", "path", "_"), JSON_ROUTES, ids=_ids(JSON_ROUTES))
def test_json_nested_100000_levels_deep_is_400_not_a_recursion_error(
    make_app: Any, method: str, path: str, _: Any
) -> None:
    app = make_app(FIDES_OAUTH_MAX_BODY_BYTES=1_000_000)  # let it reach the parser
    oauth = OAuth(app, app.test_client())
    root = oauth.root_headers()
    target = oauth.create_client(["rule:read"], headers=root)["client_id"]
    deep = "[" * 100_000 + "]" * 100_000
    for body in (deep, '{"name": ' + deep + "}"):
        _refused(oauth, method, path.format(id=target), {400}, **_raw_json(body, root))


def test_json_nested_100000_levels_deep_is_413_under_the_default_limit(
    oauth: OAuth, root: dict[str, str]
) -> None:
    body = "[" * 100_000 + "]" * 100_000
    _refused(oauth, "POST", "/oauth/client", {413}, **_raw_json(body, root))


CONTENT_TYPES = {
    "text-plain": {"data": '["rule:read"]', "content_type": "text/plain"},
    "no-content-type": {"data": '["rule:read"]'},
    "form": {"data": {"scopes": "rule:read"}},
    "multipart": {
        "data": {"scopes": "rule:read"},
        "content_type": "multipart/form-data",
    },
    "xml": {"data": "<scopes/>", "content_type": "application/xml"},
}


@pytest.mark.parametrize("kwargs", CONTENT_TYPES.values(), ids=CONTENT_TYPES.keys())
def test_body_not_declared_as_json_is_refused_and_changes_nothing(
    oauth: OAuth, root: dict[str, str], target: str, kwargs: dict[str, Any]
) -> None:
    for method, path, _ in JSON_ROUTES:
        url = path.format(id=target)
        _refused(oauth, method, url, {400, 415, 422}, headers=root, **kwargs)


# -- JSON of the wrong shape ----------------------------------------------------

SHAPES: dict[str, dict[str, Any]] = {
    "/oauth/client": {
        "null": None,
        "number": 5,
        "float": 1.5,
        "bool": True,
        "string": "rule:read",
        "empty-object": {},
        "scopes-as-string": {"scopes": "rule:read"},
        "scopes-as-object": {"scopes": {"rule:read": True}},
        "scopes-null": {"scopes": None},
        "nested-array": [["rule:read"]],
        "number-item": [5],
        "null-item": [None],
        "object-item": [{"scope": "rule:read"}],
        "unknown-field": {"scopes": [], "extra": 1},
        "chosen-client-id": {"scopes": [], "client_id": "0" * 32},
        "chosen-secret": {"scopes": [], "client_secret": "my-own-secret"},
        "name-number": {"scopes": [], "name": 5},
        "name-array": {"scopes": [], "name": ["x"]},
        "name-bool": {"scopes": [], "name": True},
        "description-object": {"scopes": [], "description": {}},
        "1001-scopes": ["rule:read"] * 1001,
    },
    "/oauth/client/{id}": {
        "array": ["rule:read"],
        "empty-array": [],
        "null": None,
        "string": "renamed",
        "scopes-as-string": {"scopes": "rule:read"},
        "scopes-null": {"scopes": None},
        "name-number": {"name": 5},
        "description-array": {"description": ["x"]},
        "unknown-field": {"extra": 1},
        "client-id": {"client_id": "0" * 32},
        "secret-hash": {"secret_hash": "$2b$04$" + "a" * 53},
        "token-generation": {"token_generation": 0},
        "created-by": {"created_by": "someone"},
        "good-name-bad-scopes": {"name": "renamed", "scopes": ["no:such"]},
        "good-name-bad-description": {"name": "renamed", "description": 5},
        "good-scopes-bad-name": {"scopes": [], "name": "\x00"},
    },
    "/oauth/client/{id}/secret": {
        "array": [],
        "string": "grace",
        "number": 60,
        "unknown-field": {"client_secret": "my-own-secret"},
        "negative-grace": {"grace_seconds": -1},
        "fractional-grace": {"grace_seconds": 1.5},
        "string-grace": {"grace_seconds": "60"},
        "bool-grace": {"grace_seconds": True},
        "null-grace": {"grace_seconds": None},
        "huge-grace": {"grace_seconds": 10**12},
        "string-revoke": {"revoke_tokens": "yes"},
        "number-revoke": {"revoke_tokens": 1},
        "good-grace-bad-revoke": {"grace_seconds": 60, "revoke_tokens": "no"},
    },
    "/oauth/client/{id}/scope": {
        "object": {"scopes": ["rule:read"]},
        "empty-object": {},
        "null": None,
        "string": "rule:read",
        "number": 5,
        "nested-array": [["rule:read"]],
        "number-item": ["rule:read", 5],
        "null-item": ["rule:read", None],
    },
}
# Valid JSON that Python cannot represent as asked: NaN, and an integer
# beyond the 4300-digit conversion limit.
ODD_NUMBERS = {
    "nan": "[NaN]",
    "infinity": '{"grace_seconds": Infinity}',
    "huge-int": "[" + "1" * 5000 + "]",
}


@pytest.mark.parametrize(("method", "path", "_"), JSON_ROUTES, ids=_ids(JSON_ROUTES))
def test_json_of_the_wrong_shape_is_refused_and_changes_nothing(
    oauth: OAuth, root: dict[str, str], target: str, method: str, path: str, _: Any
) -> None:
    bodies = {name: json.dumps(body) for name, body in SHAPES[path].items()}
    for name, text in (bodies | ODD_NUMBERS).items():
        url = path.format(id=target)
        _refused(oauth, method, url, {400, 422}, name, **_raw_json(text, root))


# -- hostile text ---------------------------------------------------------------

HOSTILE_TEXT = {
    "nul": "name\x00",
    "lone-high-surrogate": "\ud800",
    "lone-low-surrogate": "x\udc00y",
    "reversed-pair": "\udc00\ud800",
    "soh": "\x01",
    "bell": "ding\x07",
    "escape-sequence": "\x1b[31mred\x1b[0m",
    "delete": "\x7f",
    "c1-next-line": "next\x85line",
    "c1-csi": "\x9b31mred",
}
TEXT_ROUTES = [("POST", "/oauth/client"), ("PUT", "/oauth/client/{id}")]


def _text_body(method: str, field: str, value: str) -> str:
    body: dict[str, Any] = {field: value}
    if method == "POST":
        body["scopes"] = []
    return json.dumps(body)  # \u escapes: lone surrogates travel as raw JSON text


@pytest.mark.parametrize("value", HOSTILE_TEXT.values(), ids=HOSTILE_TEXT.keys())
def test_control_characters_and_lone_surrogates_in_text_are_422(
    oauth: OAuth, root: dict[str, str], target: str, value: str
) -> None:
    for method, path in TEXT_ROUTES:
        for field in ("name", "description"):
            body = _text_body(method, field, value)
            url = path.format(id=target)
            _refused(oauth, method, url, {422}, field, **_raw_json(body, root))


@pytest.mark.parametrize(("field", "limit"), [("name", 200), ("description", 2000)])
def test_over_long_text_is_422_and_the_limit_itself_is_accepted(
    oauth: OAuth, root: dict[str, str], target: str, field: str, limit: int
) -> None:
    for method, path in TEXT_ROUTES:
        url = path.format(id=target)
        over = _text_body(method, field, "x" * (limit + 1))
        _refused(oauth, method, url, {422}, **_raw_json(over, root))
        at_limit = _text_body(method, field, "x" * limit)
        assert (
            _answer(oauth, method, url, **_raw_json(at_limit, root)).status_code == 200
        )


HOSTILE_SCOPES = {
    "nul": "rule:read\x00",
    "lone-surrogate": "\ud800",
    "newline": "rule:read\n",
    "leading-space": " rule:read",
    "two-in-one": "rule:read policy:read",
    "upper-case": "RULE:READ",
    "wildcard": "*",
    "glob": "rule:*",
    "empty": "",
    "unknown": "no:such",
    "escape": "\x1b[2J",
    "101-chars": "a" * 101,
}
SCOPE_ROUTES = [
    ("POST", "/oauth/client", lambda scopes: scopes),
    ("POST", "/oauth/client", lambda scopes: {"scopes": scopes}),
    ("PUT", "/oauth/client/{id}", lambda scopes: {"scopes": scopes}),
    ("PUT", "/oauth/client/{id}/scope", lambda scopes: scopes),
]


@pytest.mark.parametrize("scope", HOSTILE_SCOPES.values(), ids=HOSTILE_SCOPES.keys())
def test_hostile_scope_names_are_422_invalid_scope(
    oauth: OAuth, root: dict[str, str], target: str, scope: str
) -> None:
    for method, path, shape in SCOPE_ROUTES:
        body = json.dumps(shape(["rule:read", scope]))
        url = path.format(id=target)
        response = _refused(oauth, method, url, {422}, **_raw_json(body, root))
        assert response.get_json()["error"] == "invalid_scope"


# -- size -----------------------------------------------------------------------

PADDING = " " * (70 * 1024)  # valid JSON whitespace, past the 64 KiB limit


@pytest.mark.parametrize(("method", "path", "body"), JSON_ROUTES, ids=_ids(JSON_ROUTES))
def test_body_over_64_kib_is_413_and_changes_nothing(
    oauth: OAuth, root: dict[str, str], target: str, method: str, path: str, body: Any
) -> None:
    url = path.format(id=target)
    padded = json.dumps(body) + PADDING
    response = _refused(oauth, method, url, {413}, **_raw_json(padded, root))
    assert response.get_json()["error"] == "invalid_request"
    # Without the padding the same body is accepted: the size alone was refused.
    assert (
        _answer(oauth, method, url, **_raw_json(json.dumps(body), root)).status_code
        == 200
    )


def test_token_form_over_64_kib_is_413(oauth: OAuth) -> None:
    data = {"client_id": ROOT_ID, "client_secret": ROOT_SECRET, "pad": PADDING}
    _refused(oauth, "POST", TOKEN, {413}, data=data)


# -- query strings and paths ----------------------------------------------------

BAD_PAGES = [
    "page=0",
    "page=-1",
    "page=abc",
    "page=1e3",
    "page=1.0",
    "page=0x10",
    "page=",
    "page=%00",
    "page=" + "9" * 30,
    "page=\uff11",
    "page=%EF%BC%91",
    "size=0",
    "size=-1",
    "size=101",
    "size=1e3",
    "size=abc",
    "size=\uff11",
    "size= 1",
    "size=" + "9" * 30,
    "page=1&size=1000000",
]


def test_bad_page_or_size_is_refused(oauth: OAuth, root: dict[str, str]) -> None:
    for query in BAD_PAGES:
        _refused(oauth, "GET", "/oauth/client?" + query, {400, 422}, headers=root)


ODD_IDS = {
    "nul": "%00",
    "10000-chars": "a" * 10_000,
    "unicode": "é" * 32,
    "full-width-digits": "\uff10" * 32,
    "invalid-utf8": "%ff%fe",
    "encoded-slash": "a%2Fb",
    "root-client": ROOT_ID,
    "unknown-well-formed": "0" * 32,
    "target-upper-case": "{upper}",
    "target-with-suffix": "{id}0",
    "target-with-space": "%20{id}",
}


@pytest.mark.parametrize("client_id", ODD_IDS.values(), ids=ODD_IDS.keys())
def test_odd_client_id_in_the_path_is_404_on_every_client_route(
    oauth: OAuth, root: dict[str, str], target: str, client_id: str
) -> None:
    odd = client_id.format(id=target, upper=target.upper())
    for method, path, body in CLIENT_ROUTES:
        url = path.replace("{id}", odd)
        response = _refused(oauth, method, url, {404}, json=body, headers=root)
        assert response.get_json()["error"] == "not_found"


WRONG_METHODS = [
    ("GET", TOKEN),
    ("PATCH", TOKEN),
    ("PATCH", "/oauth/client"),
    ("DELETE", "/oauth/client"),
    ("PATCH", "/oauth/client/{id}"),
    ("POST", "/oauth/client/{id}"),
    ("GET", "/oauth/client/{id}/secret"),
    ("DELETE", "/oauth/client/{id}/secret"),
    ("GET", "/oauth/client/{id}/revoke-tokens"),
    ("DELETE", "/oauth/client/{id}/scope"),
    ("POST", "/oauth/scope"),
]


def test_wrong_method_is_405_json_and_changes_nothing(
    oauth: OAuth, root: dict[str, str], target: str
) -> None:
    for method, path in WRONG_METHODS:
        url = path.format(id=target)
        response = _refused(oauth, method, url, {405}, json=["rule:read"], headers=root)
        assert method not in response.headers["Allow"]


# -- callers who may not do it --------------------------------------------------


def _target_token_still_works(oauth: OAuth, target_client: dict[str, Any]) -> None:
    token = oauth.token(target_client["client_id"], target_client["client_secret"])
    assert oauth.http.get("/api/v1/rule", headers=bearer(token)).status_code == 200


NO_CREDENTIALS = {
    "no-header": {},
    "garbage-bearer": bearer("garbage"),
    "root-basic-credentials": basic(ROOT_ID, ROOT_SECRET),
}


@pytest.mark.parametrize(("method", "path", "body"), ROUTES, ids=_ids(ROUTES))
def test_request_without_a_valid_token_is_401_and_changes_nothing(
    oauth: OAuth, target_client: dict[str, Any], method: str, path: str, body: Any
) -> None:
    url = path.format(id=target_client["client_id"])
    for name, headers in NO_CREDENTIALS.items():
        _refused(oauth, method, url, {401}, name, json=body, headers=headers)
    _target_token_still_works(oauth, target_client)


@pytest.mark.parametrize(("method", "path", "body"), ROUTES, ids=_ids(ROUTES))
def test_token_without_the_routes_scope_is_403_and_changes_nothing(
    oauth: OAuth, target_client: dict[str, Any], method: str, path: str, body: Any
) -> None:
    _, _, headers = oauth.client_with(["policy:read", "rule:read"])
    url = path.format(id=target_client["client_id"])
    response = _refused(oauth, method, url, {403}, json=body, headers=headers)
    assert response.get_json()["error"] == "insufficient_scope"
    _target_token_still_works(oauth, target_client)


@pytest.mark.parametrize(
    ("method", "path", "body"), WRITE_ROUTES, ids=_ids(WRITE_ROUTES)
)
def test_caller_without_the_targets_scopes_is_403_and_changes_nothing(
    oauth: OAuth, target_client: dict[str, Any], method: str, path: str, body: Any
) -> None:
    # Every client:* scope, but not rule:read, which the target holds.
    manager = ["client:create", "client:read", "client:update", "client:delete"]
    _, _, headers = oauth.client_with(manager)
    url = path.format(id=target_client["client_id"])
    _refused(oauth, method, url, {403}, json=body, headers=headers)
    _target_token_still_works(oauth, target_client)


# -- the token endpoint ----------------------------------------------------------

CREDENTIALS = f"client_id={ROOT_ID}&client_secret={ROOT_SECRET}"
TOKEN_FORMS = {
    "nul-scope": CREDENTIALS + "&scope=rule:read%00",
    "encoded-surrogate-scope": CREDENTIALS + "&scope=%ED%A0%80",
    "10000-char-scope": CREDENTIALS + "&scope=" + "a" * 10_000,
    "nul-grant-type": CREDENTIALS + "&grant_type=%00",
    "invalid-utf8-grant-type": CREDENTIALS + "&grant_type=%ff",
    "repeated-grant-type": CREDENTIALS
    + "&grant_type=client_credentials&grant_type=password",
    "repeated-scope": CREDENTIALS + "&scope=rule:read&scope=client:read",
    "encoded-surrogate-client-id": f"client_id=%ED%A0%80&client_secret={ROOT_SECRET}",
    "encoded-surrogate-secret": f"client_id={ROOT_ID}&client_secret=%ED%A0%80",
    "lone-percent": "%",
    "empty-pairs": "=&=&&==",
    "no-separators": "a" * 5000,
}


def test_odd_token_form_is_4xx_json(make_app: Any) -> None:
    app = make_app(FIDES_OAUTH_AUTH_FAILURE_LIMIT=10**6)  # each form, not a 429
    oauth = OAuth(app, app.test_client())
    for name, form in TOKEN_FORMS.items():
        _refused(
            oauth,
            "POST",
            TOKEN,
            {400, 401},
            name,
            data=form,
            content_type="application/x-www-form-urlencoded",
        )


def test_token_request_as_json_is_refused(oauth: OAuth) -> None:
    body = {"client_id": ROOT_ID, "client_secret": ROOT_SECRET}
    _refused(oauth, "POST", TOKEN, {400, 401, 415}, json=body)


def test_two_sets_of_client_credentials_are_refused(oauth: OAuth) -> None:
    # RFC 6749 §2.3: one authentication method per request.
    other = oauth.create_client(["rule:read"])
    _refused(
        oauth,
        "POST",
        TOKEN,
        {400, 401},
        data={"client_id": other["client_id"], "client_secret": other["client_secret"]},
        headers=basic(ROOT_ID, ROOT_SECRET),
    )


TOKEN_ENDPOINTS = ["/oauth/revoke", "/oauth/introspect"]


@pytest.mark.parametrize("path", TOKEN_ENDPOINTS)
def test_revocation_and_introspection_refuse_bad_requests_with_json(
    oauth: OAuth, path: str
) -> None:
    token = oauth.root_token()
    root_basic = basic(ROOT_ID, ROOT_SECRET)
    _refused(oauth, "POST", path, {401}, "no credentials", data={"token": token})
    _refused(oauth, "POST", path, {400}, "no token", data={}, headers=root_basic)
    _refused(
        oauth,
        "POST",
        path,
        {400, 415},
        "json",
        json={"token": token},
        headers=root_basic,
    )
    oversize = {"token": token, "pad": PADDING}
    _refused(oauth, "POST", path, {413}, "oversize", data=oversize, headers=root_basic)
    # None of the refused requests revoked the token.
    assert oauth.http.get("/api/v1/policy", headers=bearer(token)).status_code == 200


# -- property tests --------------------------------------------------------------

_WORDS = st.sampled_from(
    [
        "rule:read",
        "policy:read",
        "client:create",
        "scope:read",
        "scopes",
        "name",
        "grace_seconds",
        "revoke_tokens",
        "",
    ]
)
_ODD_TEXT = st.text(st.characters(categories=["Cs", "Cc"]), min_size=1, max_size=5)
_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=30)
    | _WORDS
    | _ODD_TEXT
)
_KEYS = st.sampled_from(
    ["scopes", "name", "description", "grace_seconds", "revoke_tokens"]
) | st.text(max_size=10)
JSON_VALUES = st.recursive(
    _SCALARS,
    lambda inner: (
        st.lists(inner, max_size=5) | st.dictionaries(_KEYS, inner, max_size=4)
    ),
    max_leaves=20,
)


@pytest.mark.parametrize(("method", "path", "_"), JSON_ROUTES, ids=_ids(JSON_ROUTES))
def test_any_json_body_gets_json_and_never_a_5xx(
    oauth: OAuth, root: dict[str, str], target: str, method: str, path: str, _: Any
) -> None:
    url = path.format(id=target)

    @given(body=JSON_VALUES)
    def check(body: Any) -> None:
        # json.dumps escapes lone surrogates and controls: raw JSON text.
        response = _answer(oauth, method, url, **_raw_json(json.dumps(body), root))
        assert response.status_code in (200, 400, 403, 413, 422)

    check()


_FORM_KEYS = st.sampled_from(["client_id", "client_secret", "grant_type", "scope"])
_FORM_VALUES = st.sampled_from(
    [ROOT_ID, ROOT_SECRET, "client_credentials", "rule:read", ""]
) | st.text(max_size=80)


def test_any_token_form_gets_json_and_never_a_5xx(make_app: Any) -> None:
    app = make_app(FIDES_OAUTH_AUTH_FAILURE_LIMIT=10**6)  # no 429 to hide behind
    oauth = OAuth(app, app.test_client())

    @given(
        form=st.dictionaries(_FORM_KEYS | st.text(max_size=8), _FORM_VALUES, max_size=5)
    )
    def check(form: dict[str, str]) -> None:
        response = _answer(oauth, "POST", TOKEN, data=form)
        assert response.status_code in (200, 400, 401)
        if response.status_code == 200:
            assert response.get_json()["token_type"] == "Bearer"

    check()


@pytest.mark.parametrize("path", TOKEN_ENDPOINTS)
def test_any_form_to_revocation_or_introspection_gets_json_and_never_a_5xx(
    oauth: OAuth, path: str
) -> None:
    root_basic = basic(ROOT_ID, ROOT_SECRET)
    keys = st.sampled_from(["token", "token_type_hint", "client_id"]) | st.text(
        max_size=8
    )
    values = st.sampled_from([oauth.root_token(), "access_token", ""]) | st.text(
        max_size=80
    )

    @given(form=st.dictionaries(keys, values, max_size=4))
    def check(form: dict[str, str]) -> None:
        response = _answer(oauth, "POST", path, data=form, headers=root_basic)
        assert response.status_code in (200, 400, 401)

    check()


_HEADER_TEXT = st.text(
    st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_categories=["Cc"]),
    max_size=300,
)


def test_any_bearer_string_is_401_json(oauth: OAuth) -> None:
    @given(scheme=st.sampled_from(["Bearer ", "bearer ", ""]), value=_HEADER_TEXT)
    def check(scheme: str, value: str) -> None:
        headers = {"Authorization": scheme + value}
        assert _answer(oauth, "GET", "/policy", headers=headers).status_code == 401

    check()


def test_any_one_character_change_to_a_token_is_401(oauth: OAuth) -> None:
    _, _, headers = oauth.client_with(["policy:read"])
    token = headers["Authorization"].removeprefix("Bearer ")
    assert _answer(oauth, "GET", "/policy", headers=headers).status_code == 200
    # A segment's last base64url character may carry unused bits; leave those.
    positions = [
        i
        for i, ch in enumerate(token)
        if ch != "." and i + 1 < len(token) and token[i + 1] != "."
    ]
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=+/ "

    @given(position=st.sampled_from(positions), char=st.sampled_from(alphabet))
    def check(position: int, char: str) -> None:
        if token[position] == char:
            return
        changed = token[:position] + char + token[position + 1 :]
        response = _answer(oauth, "GET", "/policy", headers=bearer(changed))
        assert response.status_code == 401

    check()
