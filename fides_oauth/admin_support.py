"""What every admin page shares (CONTRACT §9): the session cookie, the
signed-in client as an actor, CSRF checks, HTML refusals and the security
headers. See :mod:`.admin`."""

from __future__ import annotations

import hmac
from collections.abc import Iterable

from authlib.oauth2 import OAuth2Error
from flask import Response
from flask import abort
from flask import make_response
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from werkzeug.wrappers import Response as BaseResponse

from .admin_sessions import SignedIn
from .bodies import is_storable_text
from .errors import safe_text
from .management import Actor
from .state import OAuthState
from .state import current_state

__all__ = [
    "ADMIN_PATH",
    "COOKIE",
    "CSP",
    "as_int",
    "check_csrf",
    "cookie_path",
    "html_error",
    "html_for",
    "is_admin_page",
    "query_text",
    "require",
    "secure_headers",
    "set_cookie",
    "signed_in",
    "signed_in_actor",
]

ADMIN_PATH = "/oauth/admin"
COOKIE = "fides_oauth_admin"

#: Scripts, styles and images from this origin only; no inline script, no
#: framing, forms posted here only.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)


def secure_headers(response: Response) -> Response:
    """Every admin answer: no framing, no inline script, never cached (pages
    may show a secret, or the signed-in client's view of others)."""
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["Cache-Control"] = "no-store"
    return response


def cookie_path(state: OAuthState) -> str:
    return state.url_prefix + ADMIN_PATH + "/"


def set_cookie(
    response: BaseResponse, state: OAuthState, name: str, value: str
) -> None:
    """An admin cookie (CONTRACT §9): HttpOnly, SameSite=Strict, Secure over
    https, sent to the page's own path only."""
    response.set_cookie(
        name,
        value,
        path=cookie_path(state),
        httponly=True,
        secure=request.is_secure,
        samesite="Strict",
    )


def signed_in(state: OAuthState) -> SignedIn | None:
    return state.core.admin_sessions.find(request.cookies.get(COOKIE))


def signed_in_actor(state: OAuthState) -> tuple[Actor, SignedIn] | None:
    """The signed-in client as an actor, with its scopes as they are now,
    and its session; None when nobody is signed in (or the client's tokens
    were revoked, or it was deleted, since the session began)."""
    session = signed_in(state)
    if session is None:
        return None
    if state.core.store.is_root(session.client_id):
        return Actor(session.client_id, state.core.registry.all), session
    client = state.core.store.find_client(session.client_id)
    if client is None or client.token_generation != session.generation:
        state.core.admin_sessions.end_all(session.client_id)
        return None
    return Actor(client.client_id, frozenset(client.scopes)), session


def check_csrf(expected: str) -> None:
    given = request.form.get("csrf_token", "")
    if not hmac.compare_digest(given.encode(), expected.encode()):
        abort(html_error(400, "The form has expired. Go back, reload and retry."))


def html_error(
    status: int, message: str, headers: Iterable[tuple[str, str]] = ()
) -> Response:
    """A refusal as an admin page: the message, with a way back."""
    response = make_response(
        render_template("fides_oauth/admin/error.html", message=message), status
    )
    response.headers.extend(headers)
    return secure_headers(response)


def html_for(error: OAuth2Error) -> Response:
    """An :class:`OAuth2Error` (the API's refusal) as an admin page: its
    description in words and its headers (``Retry-After`` on a 429, say)."""
    description = error.get_error_description() or str(error.error).replace("_", " ")
    return html_error(
        error.status_code,
        safe_text(str(description)),
        [
            (name, value)
            for name, value in error.get_headers()
            if name.lower() not in ("content-type", "cache-control", "pragma")
        ],
    )


def is_admin_page() -> bool:
    """Whether this request is for a path under the admin page while it is
    on: its refusals are pages too (CONTRACT §9); the API's stay JSON, and
    so does everything under the page's path while it is off."""
    state = current_state()
    if not state.core.config.admin:
        return False
    base = state.url_prefix + ADMIN_PATH
    return request.path == base or request.path.startswith(base + "/")


def as_int(value: str | None, default: int, low: int = 0, high: int = 2**62) -> int:
    """A query or form number, clamped to ``[low, high]`` (a database column
    holds it); ``default`` when it is missing or not a number."""
    try:
        number = int(value) if value is not None else default
    except ValueError:
        return default
    return max(low, min(number, high))


def query_text(name: str, limit: int) -> str:
    """A text query argument (a search, a filter), trimmed and shortened;
    a control character in it is a 400 page, never a query the database
    refuses."""
    value = (request.args.get(name) or "").strip()[:limit]
    if not is_storable_text(value):
        abort(html_error(400, "The search may not contain control characters."))
    return value


def require(state: OAuthState) -> tuple[Actor, SignedIn]:
    """The signed-in actor and session, or a redirect to the sign-in page."""
    found = signed_in_actor(state)
    if found is None:
        abort(redirect(url_for(f"{state.blueprint_name}.admin_home")))
    return found
