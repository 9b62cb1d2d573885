"""The OpenAPI 3.1 description of the blueprint's routes.

:func:`build_openapi` builds it from one app's state, per request: the
paths carry that app's blueprint prefix, and the scope lists name that
app's registered scopes. ``GET /oauth/openapi.json`` serves it.

Its paths come from the route table (``routes.ROUTES``); the operations are
described here, by view name.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING
from typing import Any

from .bodies import DEFAULT_PAGE_SIZE
from .bodies import MAX_PAGE
from .bodies import MAX_PAGE_SIZE
from .bodies import MAX_SCOPES_IN_BODY
from .client_metadata import AUTH_METHODS
from .client_metadata import KEY_METHOD
from .client_metadata import LIFETIME_RANGE
from .keys import ALGORITHM
from .keys import CURVE
from .models import DESCRIPTION_MAX_LENGTH
from .models import NAME_MAX_LENGTH
from .scopes import CLIENT_CREATE
from .scopes import CLIENT_DELETE
from .scopes import CLIENT_READ
from .scopes import CLIENT_UPDATE
from .scopes import SCOPE_NAME_MAX_LENGTH
from .scopes import SCOPE_NAME_PATTERN
from .scopes import SCOPE_READ
from .scopes import TOKEN_INTROSPECT

if TYPE_CHECKING:
    from .state import OAuthState

__all__ = ["OPENAPI_VERSION", "build_openapi"]

OPENAPI_VERSION = "3.1.0"

Schema = dict[str, Any]

_JSON = "application/json"
_FORM = "application/x-www-form-urlencoded"

#: What the built-in scopes let their holder do.
_BUILTIN_SCOPE_TEXT = {
    CLIENT_CREATE: "Create clients (with scopes the caller holds itself).",
    CLIENT_READ: "List and read clients and their scopes.",
    CLIENT_UPDATE: "Change clients, set their scopes, rotate their secrets, "
    "revoke their tokens.",
    CLIENT_DELETE: "Delete clients.",
    SCOPE_READ: "List the registered scopes.",
    TOKEN_INTROSPECT: "Introspect access tokens (RFC 7662).",
}

_SCOPE_PATTERN = "^" + SCOPE_NAME_PATTERN + "$"
# Names and descriptions refuse control characters other than tab, LF, CR.
_NO_CONTROL_PATTERN = r"^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]*$"
# page: at most nine digits (clients.parse_page_args).
_MAX_PAGE = 999_999_999
_MAX_SCOPES_IN_BODY = 1000


def _ref(name: str, kind: str = "schemas") -> Schema:
    return {"$ref": f"#/components/{kind}/{name}"}


def _json_content(schema: Schema) -> Schema:
    return {_JSON: {"schema": schema}}


def _response(description: str, schema_name: str, **extra: Any) -> Schema:
    return {
        "description": description,
        "content": _json_content(_ref(schema_name)),
        **extra,
    }


# -- schemas -----------------------------------------------------------------


def _client_properties() -> dict[str, Schema]:
    return {
        "client_id": _ref("ClientId"),
        "name": {"type": ["string", "null"]},
        "description": {"type": ["string", "null"]},
        "scopes": {"type": "array", "items": _ref("ScopeName")},
        "created_by": {
            "type": ["string", "null"],
            "description": "Id of the client that created this one.",
        },
        **_metadata_properties(),
        "created_at": {"type": "string", "format": "date-time"},
        "updated_at": {"type": "string", "format": "date-time"},
        "last_used_at": {
            "type": ["string", "null"],
            "format": "date-time",
            "description": "The client's last token request, to about a minute; "
            "null if it never asked for one.",
        },
    }


def _metadata_properties() -> dict[str, Schema]:
    """CONTRACT §7 client metadata, as read and as written."""
    low, high = LIFETIME_RANGE
    return {
        "token_endpoint_auth_method": {
            "enum": list(AUTH_METHODS),
            "description": "How the client authenticates at the token endpoint. "
            f"A {KEY_METHOD} client has no secret.",
        },
        "jwks": {
            "type": ["object", "null"],
            "description": "The client's public signing keys (a JWK Set, each "
            f"with a kid); {KEY_METHOD} only.",
            "required": ["keys"],
            "properties": {"keys": {"type": "array", "items": {"type": "object"}}},
        },
        "jwks_uri": {
            "type": ["string", "null"],
            "format": "uri",
            "description": f"An https URL serving the JWK Set; {KEY_METHOD} only.",
        },
        "access_token_lifetime": {
            "type": ["integer", "null"],
            "minimum": low,
            "maximum": high,
            "description": "Seconds; null: the server's default.",
        },
        "dpop_bound_access_tokens": {"type": "boolean"},
    }


def _object(
    properties: dict[str, Schema],
    required: list[str] | None = None,
    *,
    closed: bool = True,
    **extra: Any,
) -> Schema:
    """An object schema; ``closed``: no properties beyond those listed."""
    schema: Schema = {"type": "object", "properties": properties}
    if closed:
        schema["additionalProperties"] = False
    if required:
        schema["required"] = required
    schema.update(extra)
    return schema


def _text(limit: int, what: str) -> Schema:
    return {
        "type": ["string", "null"],
        "maxLength": limit,
        "pattern": _NO_CONTROL_PATTERN,
        "description": f"{what}; no control characters other than tab and newlines.",
    }


def _schemas(state: OAuthState) -> dict[str, Schema]:
    client = _client_properties()
    secret: Schema = {
        "type": "string",
        "description": "The client's secret. Shown in this answer and never again.",
    }
    scope_array: Schema = {
        "type": "array",
        "items": _ref("Scope"),
        "maxItems": MAX_SCOPES_IN_BODY,
    }
    return {
        "Error": {
            "type": "object",
            "description": "RFC 6749 §5.2 / RFC 6750 §3.1 error.",
            "properties": {
                "error": {"type": "string", "examples": ["invalid_client"]},
                "error_description": {"type": "string"},
                "unknown_scopes": {
                    "type": "array",
                    "items": {"type": "string"},
                    "description": "The requested scopes that are not registered.",
                },
                "missing_scopes": {
                    "type": "array",
                    "items": {"type": "string"},
                    "description": "The scopes the caller lacks for this action.",
                },
            },
            "required": ["error", "error_description"],
            "additionalProperties": False,
        },
        "ScopeName": {
            "type": "string",
            "minLength": 1,
            "maxLength": SCOPE_NAME_MAX_LENGTH,
            "pattern": _SCOPE_PATTERN,
        },
        "Scope": {
            "type": "string",
            "description": "A scope registered on this server.",
            "enum": state.core.registry.sorted(),
        },
        "ScopeList": {"type": "array", "items": _ref("ScopeName")},
        "ScopeArray": scope_array,
        "ClientId": {
            "type": "string",
            "pattern": "^[0-9a-f]{32}$",
            "examples": ["3f2c1e0d9b8a7f6e5d4c3b2a19081716"],
        },
        "Client": _object(client, list(client)),
        "ClientCreated": _object(
            {"client_id": client["client_id"], "client_secret": secret}
            | {k: v for k, v in client.items() if k != "client_id"},
            # No client_secret for a private_key_jwt client: it has none.
            [k for k in client],
        ),
        "ClientRotated": _object(
            {"client_id": client["client_id"], "client_secret": secret}
            | {k: v for k, v in client.items() if k != "client_id"}
            | {
                "previous_secret_valid_until": {
                    "type": ["string", "null"],
                    "format": "date-time",
                    "description": "End of the replaced secret's grace period; "
                    "null when it stopped working at once.",
                },
                "tokens_revoked": {"type": "boolean"},
            },
            [
                "client_id",
                "client_secret",
                *[k for k in client if k != "client_id"],
                "previous_secret_valid_until",
                "tokens_revoked",
            ],
        ),
        "ClientPage": _object(
            {
                "items": {"type": "array", "items": _ref("Client")},
                "total": {"type": "integer", "minimum": 0},
                "page": {"type": "integer", "minimum": 1},
                "size": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE},
                "pages": {"type": "integer", "minimum": 0},
            },
            ["items", "total", "page", "size", "pages"],
        ),
        "ClientTokensRevoked": _object(
            {"client_id": _ref("ClientId"), "tokens_revoked": {"const": True}},
            ["client_id", "tokens_revoked"],
        ),
        "CreateClientObject": _object(
            {
                "scopes": scope_array,
                "name": _text(NAME_MAX_LENGTH, "Display name"),
                "description": _text(DESCRIPTION_MAX_LENGTH, "Free text"),
                **_metadata_properties(),
            },
            ["scopes"],
        ),
        "CreateClientRequest": {
            "description": "A bare array of scopes (Fides' documentation) or an "
            "object with 'scopes' and optional 'name' and 'description'.",
            "oneOf": [_ref("ScopeArray"), _ref("CreateClientObject")],
        },
        "UpdateClientRequest": _object(
            {
                "scopes": scope_array,
                "name": _text(NAME_MAX_LENGTH, "Display name"),
                "description": _text(DESCRIPTION_MAX_LENGTH, "Free text"),
                **_metadata_properties(),
            },
            description="Only the fields present are changed.",
        ),
        "RotateSecretRequest": _object(
            {
                "grace_seconds": {
                    "type": "integer",
                    "minimum": 0,
                    "maximum": state.core.config.max_rotation_grace,
                    "default": 0,
                    "description": "How long the replaced secret keeps working, "
                    "in seconds: a JSON integer (60, not 60.0).",
                },
                "revoke_tokens": {
                    "type": "boolean",
                    "default": False,
                    "description": "Also revoke every token issued to the client.",
                },
            }
        ),
        "TokenRequest": _object(
            {
                "grant_type": {
                    "type": "string",
                    "enum": ["client_credentials"],
                    "description": "Optional: omitted means client_credentials.",
                },
                "scope": {
                    "type": "string",
                    "description": "Space-separated subset of the client's scopes; "
                    "omitted or blank: all of them.",
                },
                "client_id": {"type": "string"},
                "client_secret": {"type": "string"},
            },
            closed=False,  # RFC 6749 §3.2: unknown parameters are ignored
            description="Credentials either here (client_secret_post) or in "
            "HTTP Basic (client_secret_basic), not both. Other parameters are "
            "ignored.",
        ),
        "TokenResponse": _object(
            {
                "access_token": {
                    "type": "string",
                    "description": f"An RFC 9068 JWT signed with {ALGORITHM}.",
                },
                "token_type": {
                    "enum": ["Bearer", "DPoP"],
                    "description": "DPoP when the request carried a DPoP proof: "
                    "the token is bound to the proof's key (RFC 9449 §5).",
                },
                "expires_in": {"type": "integer", "minimum": 1},
                "scope": {"type": "string"},
            },
            ["access_token", "token_type", "expires_in", "scope"],
        ),
        "TokenParameterRequest": _object(
            {
                "token": {"type": "string", "minLength": 1},
                "token_type_hint": {
                    "type": "string",
                    "description": "Accepted and ignored (RFC 7009 §2.1).",
                },
                "client_id": {"type": "string"},
                "client_secret": {"type": "string"},
            },
            ["token"],
            closed=False,  # RFC 7009 / RFC 7662: unknown parameters are ignored
            description="Client credentials here or in HTTP Basic. Other "
            "parameters are ignored.",
        ),
        "RevocationResponse": {"type": "object", "maxProperties": 0},
        "IntrospectionResponse": {
            "oneOf": [
                _object({"active": {"const": False}}, ["active"]),
                _object(
                    {
                        "active": {"const": True},
                        "scope": {"type": "string"},
                        "client_id": {"type": "string"},
                        "token_type": {"enum": ["Bearer", "DPoP"]},
                        "cnf": _object(
                            {"jkt": {"type": "string"}},
                            ["jkt"],
                            description="The key a DPoP token is bound to "
                            "(RFC 9449 §6.2).",
                        ),
                        "exp": {"type": "integer"},
                        "iat": {"type": "integer"},
                        "iss": {"type": "string"},
                        "sub": {"type": "string"},
                        "aud": {"type": ["string", "array"]},
                        "jti": {"type": "string"},
                    },
                    [
                        "active",
                        "scope",
                        "client_id",
                        "token_type",
                        "exp",
                        "iat",
                        "iss",
                        "sub",
                        "aud",
                        "jti",
                    ],
                ),
            ]
        },
        "JWKSet": {
            "type": "object",
            "properties": {
                "keys": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "kty": {"const": "EC"},
                            "crv": {"const": CURVE},
                            "x": {"type": "string"},
                            "y": {"type": "string"},
                            "kid": {"type": "string"},
                            "use": {"const": "sig"},
                            "alg": {"const": ALGORITHM},
                        },
                        "required": ["kty", "crv", "x", "y", "kid", "use", "alg"],
                    },
                }
            },
            "required": ["keys"],
        },
        "OpenAPIDocument": {
            "type": "object",
            "required": ["openapi", "info", "paths"],
        },
    }


# -- responses and security --------------------------------------------------

_ERRORS: dict[str, tuple[str, str]] = {
    # status: (component name, description)
    "400": ("BadRequest", "Malformed request (`invalid_request`, ...)."),
    "401": ("Unauthorized", "Missing or invalid credentials."),
    "403": ("Forbidden", "`insufficient_scope`: the caller lacks scopes."),
    "404": ("NotFound", "`not_found`: no such client (the root client included)."),
    "413": ("PayloadTooLarge", "The request body is over the server's limit."),
    "415": ("UnsupportedMediaType", "The body is not `application/json`."),
    "422": ("Unprocessable", "The body or query has the wrong shape or values."),
    "409": ("Conflict", "`conflict`: the client changed meanwhile; nothing written."),
    "429": ("TooManyRequests", "Too many failed authentications; retry later."),
    "503": ("ServiceUnavailable", "`temporarily_unavailable`: storage failed."),
}


def _responses() -> dict[str, Schema]:
    responses: dict[str, Schema] = {}
    for status, (name, description) in _ERRORS.items():
        response = _response(description, "Error")
        if status == "401":
            response["headers"] = {
                "WWW-Authenticate": {
                    "description": "The authentication challenge.",
                    "schema": {"type": "string"},
                }
            }
        if status == "429":
            response["headers"] = {
                "Retry-After": {
                    "description": "Seconds until authentication may be retried.",
                    "required": True,
                    "schema": {"type": "integer", "minimum": 1},
                }
            }
        responses[name] = response
    return responses


def _security_schemes(state: OAuthState) -> dict[str, Schema]:
    scopes = {
        name: _BUILTIN_SCOPE_TEXT.get(name, "Declared by the host application.")
        for name in state.core.registry.sorted()
    }
    return {
        "oauth2": {
            "type": "oauth2",
            "description": "OAuth 2.0 client credentials (RFC 6749 §4.4).",
            "flows": {
                "clientCredentials": {
                    "tokenUrl": state.url_prefix + "/oauth/token",
                    "scopes": scopes,
                }
            },
        },
        "bearer": {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": "An access token from the token route (RFC 6750).",
        },
        "dpop": {
            "type": "http",
            "scheme": "DPoP",
            "description": "A DPoP-bound access token (RFC 9449 §7.1), with a "
            "fresh proof signed by its key in the DPoP header.",
        },
        "basic": {
            "type": "http",
            "scheme": "basic",
            "description": "Client authentication: client_id and client_secret "
            "(client_secret_basic). The form fields work too "
            "(client_secret_post).",
        },
    }


# -- operations --------------------------------------------------------------


def _errors(*statuses: str) -> dict[str, Schema]:
    return {status: _ref(_ERRORS[status][0], "responses") for status in statuses}


def _scoped(scope: str) -> list[dict[str, list[str]]]:
    return [{"bearer": [scope]}, {"dpop": [scope]}, {"oauth2": [scope]}]


_DPOP_PARAM: Schema = {
    "name": "DPoP",
    "in": "header",
    "required": False,
    "description": "A DPoP proof JWT (RFC 9449 §4): at the token endpoint it "
    "binds the token to its key; on a protected route it goes with "
    "`Authorization: DPoP <token>`. One header at most.",
    "schema": {"type": "string", "maxLength": 8192},
}
_DPOP_NONCE_HEADER: Schema = {
    "description": "A nonce to sign into the next DPoP proof, when the server "
    "requires nonces (RFC 9449 §8, §9).",
    "schema": {"type": "string"},
}


# Client authentication at the standard endpoints: Basic, or the form.
_CLIENT_AUTH: list[dict[str, list[str]]] = [{"basic": []}, {}]

_CLIENT_ID_PARAM: Schema = {
    "name": "client_id",
    "in": "path",
    "required": True,
    "description": "The client's id. Any other value (the root client's "
    "id included) answers 404.",
    "schema": {"type": "string"},
}


def _json_body(schema_name: str, *, required: bool = True) -> Schema:
    return {"required": required, "content": _json_content(_ref(schema_name))}


def _form_body(schema_name: str, *, required: bool) -> Schema:
    return {"required": required, "content": {_FORM: {"schema": _ref(schema_name)}}}


def _operation(
    operation_id: str,
    summary: str,
    tag: str,
    security: list[dict[str, list[str]]],
    responses: dict[str, Schema],
    **extra: Any,
) -> Schema:
    return {
        "operationId": operation_id,
        "summary": summary,
        "tags": [tag],
        "security": security,
        **extra,
        "responses": responses,
    }


def _operations() -> dict[str, Schema]:
    """Every operation of the blueprint, by its id (the view's name)."""
    oauth = "OAuth 2.0"
    clients = "Clients"
    ok_token = _response(
        "The access token.",
        "TokenResponse",
        headers={
            "Cache-Control": {
                "required": True,
                "schema": {"const": "no-store"},
            },
            "DPoP-Nonce": _DPOP_NONCE_HEADER,
        },
    )
    protected = ("401", "403", "503")
    with_body = ("400", "401", "403", "404", "409", "413", "415", "422", "503")
    operations = [
        _operation(
            "issue_token",
            "Trade client credentials for an access token",
            oauth,
            _CLIENT_AUTH,
            {"200": ok_token} | _errors("400", "401", "413", "429", "503"),
            description="RFC 6749 §4.4; with a `DPoP` proof, RFC 9449 §5. "
            "Errors: 400 `unsupported_grant_type`, `invalid_scope`, "
            "`invalid_request`, `insecure_transport`, `invalid_dpop_proof`, "
            "`use_dpop_nonce` (with a `DPoP-Nonce` header); 401 "
            "`invalid_client`; 429 `too_many_requests`.",
            parameters=[_DPOP_PARAM],
            requestBody=_form_body("TokenRequest", required=False),
        ),
        _operation(
            "revoke_token",
            "Revoke one of the calling client's access tokens (RFC 7009)",
            oauth,
            _CLIENT_AUTH,
            {"200": _response("Revoked, or nothing to revoke.", "RevocationResponse")}
            | _errors("400", "401", "413", "429", "503"),
            requestBody=_form_body("TokenParameterRequest", required=True),
        ),
        _operation(
            "introspect_token",
            "Is this token active? (RFC 7662)",
            oauth,
            _CLIENT_AUTH,
            {"200": _response("The token's state.", "IntrospectionResponse")}
            | _errors("400", "401", "403", "413", "429", "503"),
            description=f"The calling client needs the `{TOKEN_INTROSPECT}` "
            "scope (403 otherwise).",
            requestBody=_form_body("TokenParameterRequest", required=True),
        ),
        _operation(
            "jwks",
            "The public keys that verify access tokens (RFC 7517)",
            oauth,
            [],
            {"200": _response("The JWK Set.", "JWKSet")} | _errors("503"),
        ),
        _operation(
            "openapi_document",
            "This document",
            "Meta",
            [],
            {"200": _response("The OpenAPI document.", "OpenAPIDocument")},
        ),
        _operation(
            "list_clients",
            "List clients (the root client is not listed)",
            clients,
            _scoped(CLIENT_READ),
            {"200": _response("A page of clients.", "ClientPage")}
            | _errors("401", "403", "422", "503"),
            parameters=[
                {
                    "name": "page",
                    "in": "query",
                    "schema": {
                        "type": "integer",
                        "minimum": 1,
                        "maximum": MAX_PAGE,
                        "default": 1,
                    },
                },
                {
                    "name": "size",
                    "in": "query",
                    "schema": {
                        "type": "integer",
                        "minimum": 1,
                        "maximum": MAX_PAGE_SIZE,
                        "default": DEFAULT_PAGE_SIZE,
                    },
                },
            ],
        ),
        _operation(
            "create_client",
            "Create a client",
            clients,
            _scoped(CLIENT_CREATE),
            {
                "200": _response(
                    "The new client, with its secret (shown once).",
                    "ClientCreated",
                )
            }
            | _errors(*(s for s in with_body if s not in ("404", "409"))),
            description="The caller must hold every scope it grants (403 "
            "`insufficient_scope` with `missing_scopes`); unregistered "
            "scopes are 422 `invalid_scope` with `unknown_scopes`.",
            requestBody=_json_body("CreateClientRequest"),
        ),
        _operation(
            "get_client",
            "Read a client",
            clients,
            _scoped(CLIENT_READ),
            {"200": _response("The client.", "Client")} | _errors(*protected, "404"),
        ),
        _operation(
            "update_client",
            "Change a client's name, description or scopes",
            clients,
            _scoped(CLIENT_UPDATE),
            {"200": _response("The changed client.", "Client")} | _errors(*with_body),
            description="The caller must hold every scope the client holds "
            "and every scope it grants.",
            requestBody=_json_body("UpdateClientRequest"),
        ),
        _operation(
            "delete_client",
            "Delete a client",
            clients,
            _scoped(CLIENT_DELETE),
            {"204": {"description": "Deleted."}} | _errors(*protected, "404", "409"),
            description="The caller must hold every scope the client holds.",
        ),
        _operation(
            "rotate_secret",
            "Give a client a new secret",
            clients,
            _scoped(CLIENT_UPDATE),
            {
                "200": _response(
                    "The client with its new secret (shown once).",
                    "ClientRotated",
                )
            }
            | _errors(*with_body),
            description="The body is optional. The caller must hold every "
            "scope the client holds.",
            requestBody=_json_body("RotateSecretRequest", required=False),
        ),
        _operation(
            "revoke_client_tokens",
            "Revoke every token issued to a client so far",
            clients,
            _scoped(CLIENT_UPDATE),
            {"200": _response("Revoked.", "ClientTokensRevoked")}
            | _errors(*protected, "404", "409"),
        ),
        _operation(
            "get_client_scopes",
            "A client's scopes",
            clients,
            _scoped(CLIENT_READ),
            {"200": _response("The scopes.", "ScopeList")} | _errors(*protected, "404"),
        ),
        _operation(
            "set_client_scopes",
            "Replace a client's scopes",
            clients,
            _scoped(CLIENT_UPDATE),
            {"200": _response("The new scopes.", "ScopeList")} | _errors(*with_body),
            requestBody=_json_body("ScopeArray"),
        ),
        _operation(
            "list_scopes",
            "Every registered scope",
            "Scopes",
            _scoped(SCOPE_READ),
            {"200": _response("The scopes, sorted.", "ScopeList")}
            | _errors(*protected),
        ),
    ]
    for op in operations:
        if any("dpop" in option for option in op["security"]):
            op["parameters"] = [*op.get("parameters", []), _DPOP_PARAM]
    return {op["operationId"]: op for op in operations}


def _paths(prefix: str, surface: Iterable[tuple[str, str, str]]) -> Schema:
    """The paths object from the route table: (path, method, view name)."""
    operations = _operations()
    paths: dict[str, Schema] = {}
    for path, method, view in surface:
        item = paths.setdefault(prefix + path, {})
        if "{client_id}" in path:
            item["parameters"] = [_CLIENT_ID_PARAM]
        item[method.lower()] = operations[view]
    return paths


def build_openapi(
    state: OAuthState, surface: Iterable[tuple[str, str, str]]
) -> dict[str, Any]:
    """The OpenAPI 3.1 document of the blueprint as registered on one app;
    ``surface`` is the route table's (path, method, view name) triples."""
    from . import __version__  # here: the package imports this module

    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "fides_oauth",
            "version": __version__,
            "summary": "OAuth 2.0 client credentials and client management.",
            "description": "Every answer is JSON; errors are "
            '`{"error", "error_description"}`.',
        },
        "tags": [
            {"name": "OAuth 2.0"},
            {"name": "Clients"},
            {"name": "Scopes"},
            {"name": "Meta"},
        ],
        "paths": _paths(state.url_prefix, surface),
        "components": {
            "schemas": _schemas(state),
            "responses": _responses(),
            "securitySchemes": _security_schemes(state),
        },
    }
