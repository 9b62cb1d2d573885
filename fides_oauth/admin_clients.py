"""The admin page's client pages: list and search, create, and a client's
page with its actions. Each is a call to :class:`~.management.Management`
with the signed-in client as the actor; see :mod:`.admin`."""

from __future__ import annotations

import json
from typing import Any

from authlib.oauth2 import OAuth2Error
from flask import abort
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from flask.typing import ResponseReturnValue

from .admin_support import as_int
from .admin_support import check_csrf
from .admin_support import html_error
from .admin_support import html_for
from .admin_support import query_text
from .admin_support import require
from .bodies import parse_create_body
from .bodies import parse_rotation_body
from .bodies import parse_update_body
from .client_metadata import AUTH_METHODS
from .clients import epoch_to_iso
from .management import Actor
from .scopes import CLIENT_CREATE
from .scopes import CLIENT_DELETE
from .scopes import CLIENT_READ
from .scopes import CLIENT_UPDATE
from .state import OAuthState
from .state import current_state

__all__ = ["list_clients", "new_client", "show_client"]

PAGE_SIZE = 20


def list_clients() -> ResponseReturnValue:
    state = current_state()
    actor, session = require(state)
    items: list[Any] = []
    total = 0
    page = as_int(request.args.get("page"), 1, low=1, high=10_000)
    query = query_text("q", 200)
    if CLIENT_READ in actor.scopes:
        items, total = state.core.management.page(page, PAGE_SIZE, query or None)
    return render_template(
        "fides_oauth/admin/clients.html",
        actor=actor,
        csrf_token=session.csrf,
        items=items,
        total=total,
        page=page,
        pages=(total + PAGE_SIZE - 1) // PAGE_SIZE,
        query=query,
        can_read=CLIENT_READ in actor.scopes,
        can_create=CLIENT_CREATE in actor.scopes,
    )


def new_client() -> ResponseReturnValue:
    state = current_state()
    actor, session = require(state)
    if CLIENT_CREATE not in actor.scopes:
        return html_error(403, "Your client may not create clients.")
    groups = _scope_groups(state)
    if request.method == "GET":
        return render_template(
            "fides_oauth/admin/new_client.html",
            actor=actor,
            csrf_token=session.csrf,
            groups=groups,
        )
    check_csrf(session.csrf)
    body = {
        "scopes": request.form.getlist("scope"),
        "name": request.form.get("name") or None,
        "description": request.form.get("description") or None,
    }
    try:
        spec = parse_create_body(
            body, state.core.registry, state.core.config.jwks_uri_allow_loopback
        )
        client, secret = state.core.management.create(actor, spec)
    except OAuth2Error as error:
        state.core.store.rollback()
        return html_for(error)
    return _secret_page(actor, session.csrf, client, secret)


def show_client(client_id: str) -> ResponseReturnValue:
    state = current_state()
    actor, session = require(state)
    if CLIENT_READ not in actor.scopes:
        return html_error(403, "Your client may not read clients.")
    management = state.core.management
    try:
        client = management.get(client_id)
        if request.method == "GET":
            return _client_page(state, actor, session.csrf, client)
        check_csrf(session.csrf)
        action = request.form.get("action")
        if action in ("save", "settings"):
            _require_scope(actor, CLIENT_UPDATE, "change clients")
            body = _details_body() if action == "save" else _settings_body()
            changes = parse_update_body(
                body, state.core.registry, state.core.config.jwks_uri_allow_loopback
            )
            client = management.update(actor, client_id, changes)
            return _client_page(state, actor, session.csrf, client, "Saved.")
        if action == "rotate":
            _require_scope(actor, CLIENT_UPDATE, "rotate secrets")
            rotation = parse_rotation_body(
                # Not a number: -1, refused by the API's rule (never "no grace").
                {
                    "grace_seconds": as_int(
                        request.form.get("grace_seconds") or "0", -1, low=-1
                    )
                },
                management.max_rotation_grace,
            )
            client, secret = management.rotate(actor, client_id, rotation)
            return _secret_page(actor, session.csrf, client, secret)
        if action == "revoke":
            _require_scope(actor, CLIENT_UPDATE, "revoke tokens")
            management.revoke_tokens(actor, client_id)
            state.core.admin_sessions.end_all(client_id)
            return _client_page(
                state, actor, session.csrf, management.get(client_id), "Revoked."
            )
        if action == "delete":
            _require_scope(actor, CLIENT_DELETE, "delete clients")
            if request.form.get("confirm") != "yes":
                return html_error(400, "Tick the box to confirm the deletion.")
            management.delete(actor, client_id)
            state.core.admin_sessions.end_all(client_id)
            return redirect(url_for(f"{state.blueprint_name}.admin_clients"))
        return html_error(400, "Unknown action.")
    except OAuth2Error as error:
        state.core.store.rollback()
        return html_for(error)


def _details_body() -> dict[str, Any]:
    """The details form as the API's update body."""
    return {
        "name": request.form.get("name") or None,
        "description": request.form.get("description") or None,
        "scopes": request.form.getlist("scope"),
    }


def _settings_body() -> dict[str, Any]:
    """The settings form as the API's update body (CONTRACT §7 names)."""
    form = request.form
    body: dict[str, Any] = {
        "token_endpoint_auth_method": form.get("token_endpoint_auth_method"),
        "dpop_bound_access_tokens": form.get("dpop_bound_access_tokens") == "yes",
    }
    lifetime = (form.get("access_token_lifetime") or "").strip()
    body["access_token_lifetime"] = as_int(lifetime, -1, low=-1) if lifetime else None
    jwks = (form.get("jwks") or "").strip()
    uri = (form.get("jwks_uri") or "").strip()
    if uri:
        body["jwks_uri"] = uri
    elif jwks:
        try:
            body["jwks"] = json.loads(jwks)
        except (ValueError, RecursionError):
            body["jwks"] = jwks  # refused as not a JWK Set, with the API's words
    return body


def _require_scope(actor: Actor, scope: str, what: str) -> None:
    if scope not in actor.scopes:
        abort(html_error(403, f"Your client may not {what} (it lacks {scope})."))


def _secret_page(actor: Actor, csrf: str, client: Any, secret: str | None) -> str:
    """The new secret, shown once (``no-store``, as every admin page), and
    until when a rotated-out secret still works."""
    return render_template(
        "fides_oauth/admin/secret.html",
        actor=actor,
        csrf_token=csrf,
        client=client,
        secret=secret,
        old_secret_until=epoch_to_iso(client.previous_secret_expires_at),
    )


def _client_page(
    state: OAuthState, actor: Actor, csrf: str, client: Any, notice: str = ""
) -> str:
    held = set(client.scopes)
    return render_template(
        "fides_oauth/admin/client.html",
        actor=actor,
        csrf_token=csrf,
        client=client,
        notice=notice,
        groups=_scope_groups(state),
        held=held,
        # Controls the actor cannot use are disabled; the server refuses anyway.
        can_update=CLIENT_UPDATE in actor.scopes and held <= actor.scopes,
        can_delete=CLIENT_DELETE in actor.scopes and held <= actor.scopes,
        max_grace=state.core.management.max_rotation_grace,
        auth_methods=AUTH_METHODS,
        jwks_text=json.dumps(client.jwks, indent=2) if client.jwks else "",
        last_used=client.last_used_at,
    )


def _scope_groups(state: OAuthState) -> list[tuple[str, list[str]]]:
    """Scopes grouped by resource (the part before the first ':')."""
    groups: dict[str, list[str]] = {}
    for name in state.core.registry.sorted():
        groups.setdefault(name.split(":", 1)[0], []).append(name)
    return sorted(groups.items())
