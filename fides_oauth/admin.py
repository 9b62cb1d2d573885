"""The admin page (CONTRACT §9): server-rendered views over the management
use cases, for a client signed in with its credentials.

No rule lives here: sign-in is :func:`~fides_oauth.client_auth.check_credentials`
(the failure limits included), every change is a :class:`~.management.Management`
call with the signed-in client as the :class:`~.management.Actor` (the same
containment and audit as the API), and each page asks for the scope its API
route asks for. What is the page's own: the session (:mod:`.admin_sessions`),
CSRF tokens, and the security headers.

Off by default (``FIDES_OAUTH_ADMIN``): every path under it is then 404.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask import Blueprint
from flask import Response
from flask import abort
from flask import make_response
from flask import redirect
from flask import render_template
from flask import request
from flask import send_from_directory
from flask import url_for
from flask.typing import ResponseReturnValue

from .admin_clients import list_clients
from .admin_clients import new_client
from .admin_clients import show_client
from .admin_support import ADMIN_PATH
from .admin_support import COOKIE
from .admin_support import as_int
from .admin_support import check_csrf
from .admin_support import cookie_path
from .admin_support import html_error
from .admin_support import html_for
from .admin_support import query_text
from .admin_support import require
from .admin_support import secure_headers
from .admin_support import set_cookie
from .admin_support import signed_in
from .admin_support import signed_in_actor
from .audit_trail import ID_MAX
from .client_auth import check_credentials
from .errors import TooManyAttemptsError
from .routes import METHODS
from .routes import method_not_allowed
from .scopes import CLIENT_READ
from .state import current_state

__all__ = ["register_admin"]

#: The sign-in form's CSRF cookie (double submit: there is no session yet).
SIGN_IN_COOKIE = "fides_oauth_admin_sign_in"


def register_admin(bp: Blueprint) -> None:
    """The admin routes, on the library's blueprint."""
    routes: list[tuple[str, str, Callable[..., Any], tuple[str, ...]]] = [
        ("/", "admin_home", home, ("GET",)),
        ("/sign-in", "admin_sign_in", sign_in, ("POST",)),
        ("/sign-out", "admin_sign_out", sign_out, ("POST",)),
        ("/clients", "admin_clients", list_clients, ("GET",)),
        ("/clients/new", "admin_new_client", new_client, ("GET", "POST")),
        ("/clients/<client_id>", "admin_client", show_client, ("GET", "POST")),
        ("/keys", "admin_keys", signing_keys, ("GET", "POST")),
        ("/audit", "admin_audit", audit_trail, ("GET",)),
        ("/static/<path:filename>", "admin_static", static_file, ("GET",)),
    ]
    for path, endpoint, view, methods in routes:
        bp.add_url_rule(ADMIN_PATH + path, endpoint, _page(view), methods=list(methods))
        others = [method for method in METHODS if method not in methods]
        bp.add_url_rule(
            ADMIN_PATH + path,
            endpoint + "_method_not_allowed",
            _page(method_not_allowed(methods)),
            methods=others,
        )


def _page(view: Callable[..., ResponseReturnValue]) -> Callable[..., Response]:
    """404 when the page is off; security headers on every answer."""

    def wrapped(**kwargs: Any) -> Response:
        state = current_state()
        if not state.core.config.admin:
            abort(404)
        return secure_headers(make_response(view(**kwargs)))

    wrapped.__name__ = view.__name__
    return wrapped


_STATIC = Path(__file__).parent / "static" / "fides_oauth"


def static_file(filename: str) -> Response:
    """The page's CSS and JavaScript: served under the page's path, so they
    are 404 with the page when it is off."""
    return send_from_directory(_STATIC, filename, max_age=300)


def home() -> ResponseReturnValue:
    state = current_state()
    if signed_in_actor(state) is not None:
        return redirect(url_for(f"{state.blueprint_name}.admin_clients"))
    token = secrets.token_urlsafe(32)
    response = make_response(
        render_template("fides_oauth/admin/sign_in.html", csrf_token=token)
    )
    set_cookie(response, state, SIGN_IN_COOKIE, token)
    return response


def sign_in() -> ResponseReturnValue:
    state = current_state()
    check_csrf(request.cookies.get(SIGN_IN_COOKIE, "") or secrets.token_hex(8))
    client_id = request.form.get("client_id", "")
    secret = request.form.get("client_secret", "")
    try:
        client = check_credentials(state.core, client_id, secret, request.remote_addr)
    except TooManyAttemptsError as error:
        return html_for(error)  # with its Retry-After
    if client is None:
        return html_error(401, "The client ID or the secret is not right.")
    event, who = "admin_signed_in", client.client_id
    token = state.core.admin_sessions.start(
        who,
        client.token_generation,
        client.token_lifetime(state.core.config.access_token_expires_in),
        record=state.core.trail.staged(event, actor=who, target=who),
    )
    state.core.audit(event, actor=who, target=who)
    response = redirect(url_for(f"{state.blueprint_name}.admin_clients"))
    set_cookie(response, state, COOKIE, token)
    response.delete_cookie(SIGN_IN_COOKIE, path=cookie_path(state))
    return response


def sign_out() -> ResponseReturnValue:
    state = current_state()
    session = signed_in(state)
    if session is not None:
        check_csrf(session.csrf)
        event, who = "admin_signed_out", session.client_id
        state.core.admin_sessions.end(
            request.cookies.get(COOKIE),
            record=state.core.trail.staged(event, actor=who, target=who),
        )
        state.core.audit(event, actor=who, target=who)
    response = redirect(url_for(f"{state.blueprint_name}.admin_home"))
    response.delete_cookie(COOKIE, path=cookie_path(state))
    return response


def signing_keys() -> ResponseReturnValue:
    """The keys that verify tokens, which one signs, and (root only) a new
    one: the same :meth:`~.keys.KeyStore.rotate` as the CLI's command."""
    state = current_state()
    actor, session = require(state)
    is_root = state.core.store.is_root(actor.client_id)
    notice = ""
    if request.method == "POST":
        check_csrf(session.csrf)
        if not is_root:
            return html_error(403, "Only the root client may rotate the signing key.")
        try:
            state.core.rotate_signing_key(actor.client_id)
        except RuntimeError as error:  # configured in FIDES_OAUTH_SIGNING_KEY
            return html_error(409, str(error))
        notice = "A new key signs new tokens; the old ones verify until expiry."
    keys = state.core.keys
    return render_template(
        "fides_oauth/admin/keys.html",
        actor=actor,
        csrf_token=session.csrf,
        kids=[key["kid"] for key in keys.public_jwks()["keys"]],
        current=keys.signing_key().kid,
        can_rotate=is_root and state.core.config.signing_key_pem is None,
        notice=notice,
    )


#: Events per page of the audit trail.
AUDIT_PAGE_SIZE = 50


def audit_trail() -> ResponseReturnValue:
    """The kept audit events, newest first, optionally those of one client
    (as actor or target). Seen with ``client:read``, like the clients the
    events name."""
    state = current_state()
    actor, session = require(state)
    client = query_text("client", ID_MAX)
    before = as_int(request.args.get("before"), 0) or None
    can_read = CLIENT_READ in actor.scopes
    entries = (
        state.core.trail.recent(
            client_id=client or None, before=before, limit=AUDIT_PAGE_SIZE
        )
        if can_read
        else []
    )
    return render_template(
        "fides_oauth/admin/audit.html",
        actor=actor,
        csrf_token=session.csrf,
        entries=entries,
        client=client,
        client_max=ID_MAX,
        can_read=can_read,
        older=entries[-1].id if len(entries) == AUDIT_PAGE_SIZE else None,
    )
