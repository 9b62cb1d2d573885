"""RFC 8414 authorization-server metadata, served on the host app's root.

``/.well-known/oauth-authorization-server`` and, when the blueprint has a
prefix, the path-inserted form RFC 8414 §3 derives from the issuer
(``/.well-known/oauth-authorization-server/api/v1``). A host turns both off
with ``FIDES_OAUTH_SERVER_METADATA = False``.
"""

from __future__ import annotations

from typing import Any

from flask import Response
from flask import jsonify
from flask import url_for

from .state import current_state

__all__ = ["WELL_KNOWN", "server_metadata"]

WELL_KNOWN = "/.well-known/oauth-authorization-server"
_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]


def server_metadata() -> Response:
    state = current_state()

    def url(endpoint: str) -> str:
        return url_for(f"{state.blueprint_name}.{endpoint}", _external=True)

    body: dict[str, Any] = {
        "issuer": state.issuer(),
        "token_endpoint": url("token"),
        "revocation_endpoint": url("revoke"),
        "introspection_endpoint": url("introspect"),
        "jwks_uri": url("jwks"),
        "grant_types_supported": ["client_credentials"],
        # No authorization endpoint: no response types.
        "response_types_supported": [],
        "token_endpoint_auth_methods_supported": _AUTH_METHODS,
        "revocation_endpoint_auth_methods_supported": _AUTH_METHODS,
        "introspection_endpoint_auth_methods_supported": _AUTH_METHODS,
        "scopes_supported": state.registry.sorted(),
    }
    response = jsonify(body)
    response.headers["Cache-Control"] = "public, max-age=300"
    return response
