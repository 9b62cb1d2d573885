"""The blueprint's HTTP routes. Thin: parse, check, call ``clients``, answer.

Every route either answers JSON or raises an ``OAuth2Error`` that the
blueprint's error handler renders; a route that changes the store writes
only after every check has passed, in one commit.
"""

from __future__ import annotations

import io
import json
import re
from typing import Any

from authlib.oauth2 import OAuth2Error
from flask import Blueprint
from flask import Response
from flask import current_app
from flask import jsonify
from flask import make_response
from flask import request
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.exceptions import HTTPException
from werkzeug.exceptions import MethodNotAllowed
from werkzeug.exceptions import NotFound
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.routing import RequestRedirect

from . import bodies
from . import clients
from .admin_support import html_for
from .admin_support import is_admin_page
from .decorators import current_client
from .decorators import require_scopes
from .discovery import WELL_KNOWN
from .errors import BadRequestBodyError
from .errors import ConflictError
from .errors import FidesOAuthError
from .errors import MethodNotAllowedError
from .errors import NotFormEncodedError
from .errors import NotFoundError
from .errors import PayloadTooLargeError
from .errors import UnsupportedMediaTypeError
from .management import Actor
from .models import OAuthClient
from .outages import STORAGE_ERRORS
from .responses import render
from .scopes import CLIENT_CREATE
from .scopes import CLIENT_DELETE
from .scopes import CLIENT_READ
from .scopes import CLIENT_UPDATE
from .scopes import SCOPE_READ
from .state import current_state

__all__ = ["guard_library_paths", "register_error_handlers"]

#: How long resource servers may cache the JWK Set (seconds).
JWKS_MAX_AGE = 300


def _json_body() -> Any:
    if not request.is_json:
        raise UnsupportedMediaTypeError()
    raw = request.get_data(cache=True)
    try:
        return json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise BadRequestBodyError() from exc


def _optional_json_body() -> Any:
    """The JSON body, or ``bodies.NO_BODY`` when the request has none."""
    if not request.content_length and not request.headers.get("Transfer-Encoding"):
        return bodies.NO_BODY
    return _json_body()


# -- routes ------------------------------------------------------------------


def _require_form_body() -> None:
    """The token, revocation and introspection endpoints read form
    parameters only: another body (JSON, say) is refused for what it is,
    not taken for a request without credentials or parameters. No body at
    all is fine (HTTP Basic and an omitted grant_type, as Fides allows)."""
    # A chunked body was read and given its length before the route ran
    # (_buffer_unframed_body): the environ says how long it is.
    length = request.environ.get("CONTENT_LENGTH")
    if length == "0" or (not length and not request.headers.get("Transfer-Encoding")):
        return
    if request.mimetype != "application/x-www-form-urlencoded":
        raise NotFormEncodedError(request.mimetype)


def issue_token() -> Response:
    state = current_state()
    telemetry = state.core.telemetry
    with telemetry.token_request() as finished:
        try:
            _require_form_body()
            response: Response = state.server.create_token_response()
        except Exception as exc:  # noqa: BLE001 - answered by the handlers below
            # The blueprint's own handlers answer it (as they would after
            # this view), so the outcome reported is the answer sent.
            response = make_response(current_app.handle_user_exception(exc))
        error = None
        if response.status_code != 200 and telemetry.enabled:
            error = (response.get_json(silent=True) or {}).get("error")
        finished(response.status_code, error)
        return response


def revoke_token() -> Response:
    _require_form_body()
    return current_state().server.create_endpoint_response("revocation")  # type: ignore[no-any-return]


def introspect_token() -> Response:
    _require_form_body()
    return current_state().server.create_endpoint_response("introspection")  # type: ignore[no-any-return]


def jwks() -> Response:
    response = jsonify(current_state().core.keys.public_jwks())
    response.headers["Cache-Control"] = f"public, max-age={JWKS_MAX_AGE}"
    return response


def _actor() -> Actor:
    return Actor(current_client.client_id, current_client.scopes)


@require_scopes(CLIENT_CREATE)
def create_client() -> Response:
    state = current_state()
    spec = bodies.parse_create_body(
        _json_body(), state.core.registry, state.core.config.jwks_uri_allow_loopback
    )
    client, secret = state.core.management.create(_actor(), spec)
    if secret is None:  # a private_key_jwt client: nothing secret to show
        return jsonify({"client_id": client.id} | _public(client))
    return _secret_response(
        {"client_id": client.id, "client_secret": secret} | _public(client)
    )


def _secret_response(body: dict[str, Any]) -> Response:
    """An answer carrying a secret: never to be stored by a cache."""
    response = jsonify(body)
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    return response


def _public(client: OAuthClient) -> dict[str, Any]:
    body = clients.serialize_client(client)
    del body["client_id"]
    return body


@require_scopes(CLIENT_READ)
def list_clients() -> Response:
    page, size = bodies.parse_page_args(
        request.args.get("page"), request.args.get("size")
    )
    items, total = current_state().core.management.page(page, size)
    return jsonify(
        {
            "items": [clients.serialize_client(item) for item in items],
            "total": total,
            "page": page,
            "size": size,
            "pages": clients.page_count(total, size),
        }
    )


@require_scopes(CLIENT_READ)
def get_client(client_id: str) -> Response:
    client = current_state().core.management.get(client_id)
    return jsonify(clients.serialize_client(client))


@require_scopes(CLIENT_UPDATE)
def update_client(client_id: str) -> Response:
    state = current_state()
    changes = bodies.parse_update_body(
        _json_body(), state.core.registry, state.core.config.jwks_uri_allow_loopback
    )
    client = state.core.management.update(_actor(), client_id, changes)
    return jsonify(clients.serialize_client(client))


@require_scopes(CLIENT_UPDATE)
def rotate_secret(client_id: str) -> Response:
    state = current_state()
    rotation = bodies.parse_rotation_body(
        _optional_json_body(), state.core.config.max_rotation_grace
    )
    client, secret = state.core.management.rotate(_actor(), client_id, rotation)
    return _secret_response(
        {"client_id": client.id, "client_secret": secret}
        | _public(client)
        | {
            "previous_secret_valid_until": clients.epoch_to_iso(
                client.previous_secret_expires_at
            ),
            "tokens_revoked": rotation.revoke_tokens,
        }
    )


@require_scopes(CLIENT_UPDATE)
def revoke_client_tokens(client_id: str) -> Response:
    revoked = current_state().core.management.revoke_tokens(_actor(), client_id)
    return jsonify({"client_id": revoked, "tokens_revoked": True})


@require_scopes(CLIENT_READ)
def get_client_scopes(client_id: str) -> Response:
    client = current_state().core.management.get(client_id)
    return jsonify(list(client.scopes))


@require_scopes(CLIENT_UPDATE)
def set_client_scopes(client_id: str) -> Response:
    state = current_state()
    scopes = bodies.parse_scopes(_json_body(), state.core.registry, field="body")
    client = state.core.management.set_scopes(_actor(), client_id, scopes)
    return jsonify(list(client.scopes))


@require_scopes(CLIENT_DELETE)
def delete_client(client_id: str) -> Response:
    current_state().core.management.delete(_actor(), client_id)
    response = Response(status=204)
    del response.headers["Content-Type"]  # no content, so no content type
    return response


@require_scopes(SCOPE_READ)
def list_scopes() -> Response:
    return jsonify(current_state().core.registry.sorted())


def _limit_body(limit: int) -> None:
    # Set before anything reads the body, so a declared length over the
    # limit is refused (413) before reading, form and JSON alike.
    request.max_content_length = limit
    request.max_form_memory_size = limit
    _buffer_unframed_body(limit)


def _buffer_unframed_body(limit: int) -> None:
    """Read a body that came without a Content-Length (chunked), up to the
    limit, so one over it is 413 however it is framed.

    Werkzeug caps such a stream at the limit but may simply stop reading
    there, and the route would then act on a truncated body. The body is
    read here instead, one byte past the limit at most, and handed on with
    its length, so the rest of the request sees an ordinary body.
    """
    environ = request.environ
    if environ.get("CONTENT_LENGTH") or "wsgi.input_terminated" not in environ:
        return  # a declared length (Werkzeug enforces it), or no body read
    stream = environ["wsgi.input"]
    chunks: list[bytes] = []
    size = 0
    while size <= limit:
        chunk = stream.read(min(64 * 1024, limit + 1 - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    if size > limit:
        raise RequestEntityTooLarge()
    body = b"".join(chunks)
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))


_SLASHES = re.compile("/{2,}")


def guard_library_paths() -> Response | None:
    """The app's first ``before_request`` hook, for the library's paths.

    - The body limit is applied here, before any hook of the host's (one
      that reads ``request.form`` would otherwise read past it).
    - Werkzeug's routing answers — a merge-slashes redirect, a wrong method,
      no such path, a malformed ``Host`` — come as JSON rather than
      Werkzeug's HTML pages. Flask hands routing redirects straight to the
      client, past every error handler, and routes the errors of app-level
      rules (the metadata document) to the app's handlers; this runs first.
    """
    raw = request.path
    if "/oauth" not in raw and ".well-known" not in raw:
        return None  # the host's own paths: the host's own answers
    state = current_state()
    path = _SLASHES.sub("/", raw)
    oauth = state.url_prefix + "/oauth"
    if not (path == oauth or path.startswith((oauth + "/", WELL_KNOWN))):
        return None
    error = request.routing_exception
    if error is None:
        _limit_body(state.core.config.max_body_bytes)
        return None
    if isinstance(error, RequestRedirect):
        body = {"location": error.new_url}
        return Response(
            json.dumps(body),
            status=error.code,
            headers={"Location": error.new_url},
            mimetype="application/json",
        )
    if isinstance(error, MethodNotAllowed):
        return render(MethodNotAllowedError(error.valid_methods or ()))
    if isinstance(error, NotFound):
        return render(NotFoundError("No such route."))
    if isinstance(error, HTTPException):
        return _render_http_error(error)
    return None


def _answer(error: OAuth2Error) -> Response:
    """An error of the blueprint's routes: JSON (CONTRACT §5), or a page
    when the route is an admin page's (§9)."""
    return html_for(error) if is_admin_page() else render(error)


def _render_oauth_error(error: OAuth2Error) -> Response:
    current_state().core.store.rollback()
    return _answer(error)


_HTTP_ERROR_CODES = {404: "not_found", 405: "method_not_allowed"}


def _render_http_error(error: HTTPException) -> Response:
    if error.response is not None:  # already rendered (abort(render(...)))
        return error.response  # type: ignore[return-value]
    current_state().core.store.rollback()
    if isinstance(error, RequestEntityTooLarge):
        return _answer(PayloadTooLargeError())
    code = error.code or 500
    rendered = FidesOAuthError(error.description or error.name, status_code=code)
    rendered.error = _HTTP_ERROR_CODES.get(
        code, "invalid_request" if code < 500 else "server_error"
    )
    return _answer(rendered)


def _render_conflict(error: StaleDataError) -> Response:
    current_state().core.store.rollback()
    return _answer(ConflictError())


def _render_storage_failure(error: Exception) -> Response:
    state = current_state()
    state.core.store.rollback()
    return _answer(state.core.outages.report(error))


def register_error_handlers(bp: Blueprint) -> None:
    """Every error of the blueprint's routes, rendered in one place."""
    bp.register_error_handler(OAuth2Error, _render_oauth_error)
    bp.register_error_handler(HTTPException, _render_http_error)
    for storage_error in STORAGE_ERRORS:
        bp.register_error_handler(storage_error, _render_storage_failure)
    bp.register_error_handler(StaleDataError, _render_conflict)
