"""The route table: the blueprint's HTTP surface, written once.

:data:`ROUTES` generates the URL rules, the JSON 405 answers for the other
methods of each path, the JSON 404 for unknown paths under ``/oauth/``, the
``Allow`` header of ``OPTIONS``, and the paths of the OpenAPI document.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Blueprint
from flask import Response
from flask import jsonify
from flask import request

from . import views
from .errors import MethodNotAllowedError
from .errors import NotFoundError
from .openapi import build_openapi
from .state import current_state

__all__ = ["METHODS", "ROUTES", "Route", "method_not_allowed", "register_routes"]

#: The methods a route of the library may be asked for (HEAD and OPTIONS
#: are answered by Flask).
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "TRACE")


@dataclass(frozen=True)
class Route:
    rule: str
    endpoint: str
    view: Callable[..., Response]
    methods: tuple[str, ...]

    @property
    def openapi_path(self) -> str:
        return re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", self.rule)


def openapi_document() -> Response:
    """The OpenAPI 3.1 description of these routes, as this app serves them."""
    surface = [
        (route.openapi_path, method, route.view.__name__)
        for route in ROUTES
        for method in route.methods
    ]
    return jsonify(build_openapi(current_state(), surface))


ROUTES: tuple[Route, ...] = (
    Route("/oauth/token", "token", views.issue_token, ("POST",)),
    Route("/oauth/revoke", "revoke", views.revoke_token, ("POST",)),
    Route("/oauth/introspect", "introspect", views.introspect_token, ("POST",)),
    Route("/oauth/jwks", "jwks", views.jwks, ("GET",)),
    Route("/oauth/client", "create_client", views.create_client, ("POST",)),
    Route("/oauth/client", "list_clients", views.list_clients, ("GET",)),
    Route("/oauth/client/<client_id>", "get_client", views.get_client, ("GET",)),
    Route("/oauth/client/<client_id>", "update_client", views.update_client, ("PUT",)),
    Route(
        "/oauth/client/<client_id>",
        "delete_client",
        views.delete_client,
        ("DELETE",),
    ),
    Route(
        "/oauth/client/<client_id>/secret",
        "rotate_secret",
        views.rotate_secret,
        ("POST",),
    ),
    Route(
        "/oauth/client/<client_id>/revoke-tokens",
        "revoke_client_tokens",
        views.revoke_client_tokens,
        ("POST",),
    ),
    Route(
        "/oauth/client/<client_id>/scope",
        "get_client_scopes",
        views.get_client_scopes,
        ("GET",),
    ),
    Route(
        "/oauth/client/<client_id>/scope",
        "set_client_scopes",
        views.set_client_scopes,
        ("PUT",),
    ),
    Route("/oauth/scope", "list_scopes", views.list_scopes, ("GET",)),
    Route("/oauth/openapi.json", "openapi", openapi_document, ("GET",)),
)

#: Per rule, the methods it really serves (the 405 fallbacks share the
#: path, so Flask's automatic OPTIONS answer would list theirs too).
_SERVED: dict[str, frozenset[str]] = {}
for _route in ROUTES:
    _SERVED[_route.rule] = _SERVED.get(_route.rule, frozenset()) | set(_route.methods)


def method_not_allowed(allowed: tuple[str, ...]) -> Callable[..., Response]:
    """A view refusing a method its path does not serve (405, with Allow)."""

    def view(**_: Any) -> Response:
        raise MethodNotAllowedError(allowed)

    return view


def not_found(rest: str = "") -> Response:
    raise NotFoundError("No such route.")


def _allow_served_methods(response: Response) -> Response:
    rule = request.url_rule
    if request.method == "OPTIONS" and not response.content_length:
        response.headers.pop("Content-Type", None)  # no body, no type
    if request.method == "OPTIONS" and rule is not None:
        served = _SERVED.get(rule.rule[len(current_state().url_prefix) :])
        if served:
            extra = {"OPTIONS", "HEAD"} if "GET" in served else {"OPTIONS"}
            response.headers["Allow"] = ", ".join(sorted(served | extra))
    return response


def register_routes(bp: Blueprint) -> None:
    for route in ROUTES:
        bp.add_url_rule(
            route.rule, route.endpoint, route.view, methods=list(route.methods)
        )
    # Answer wrong methods inside the blueprint, so they get JSON too
    # (Flask routes 405s to the app's handlers otherwise).
    for rule, allowed in _SERVED.items():
        others = [m for m in METHODS if m not in allowed]
        name = "method_not_allowed_" + re.sub(r"[^a-z0-9]+", "_", rule).strip("_")
        bp.add_url_rule(
            rule, name, method_not_allowed(tuple(sorted(allowed))), methods=others
        )
    for path in ("/oauth/<path:rest>", "/oauth/", "/oauth"):
        bp.add_url_rule(path, "not_found", not_found, methods=list(METHODS))
    bp.after_request(_allow_served_methods)
    views.register_error_handlers(bp)
