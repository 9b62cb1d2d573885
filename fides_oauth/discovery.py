"""RFC 8414 authorization-server metadata, served on the host app's root.

At the one URL RFC 8414 §3 derives from the issuer: the well-known suffix
inserted between the issuer's host and its path. An issuer with a path
(``https://host/api/v1``, the default under the ``/api/v1`` prefix) is
served at ``/.well-known/oauth-authorization-server/api/v1``; only an
issuer without a path is served at ``/.well-known/oauth-authorization-server``
itself, since §3.3 requires the ``issuer`` in the document to be the one its
URL was built from. A host turns it off with
``FIDES_OAUTH_SERVER_METADATA = False``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import Response
from flask import jsonify
from flask import url_for

from .client_auth import METHOD_NAMES
from .client_metadata import SIGNING_ALGORITHMS
from .state import current_state

__all__ = ["WELL_KNOWN", "metadata_path", "server_metadata"]

WELL_KNOWN = "/.well-known/oauth-authorization-server"


def metadata_path(configured_issuer: str | None, url_prefix: str) -> str:
    """Where RFC 8414 §3 puts the metadata of this app's issuer: the
    configured issuer's path, else the blueprint's prefix (the path of the
    issuer derived from each request)."""
    path = urlsplit(configured_issuer).path if configured_issuer else url_prefix
    return WELL_KNOWN + path.rstrip("/")


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
        "token_endpoint_auth_methods_supported": list(METHOD_NAMES),
        "revocation_endpoint_auth_methods_supported": list(METHOD_NAMES),
        "introspection_endpoint_auth_methods_supported": list(METHOD_NAMES),
        "token_endpoint_auth_signing_alg_values_supported": list(SIGNING_ALGORITHMS),
        "scopes_supported": state.core.registry.sorted(),
        # RFC 9449 §5.1: the algorithms a DPoP proof may use.
        "dpop_signing_alg_values_supported": list(state.core.dpop.algorithms),
    }
    response = jsonify(body)
    response.headers["Cache-Control"] = "public, max-age=300"
    return response
