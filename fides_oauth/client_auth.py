"""Client authentication: one registry of methods, one credential check.

:data:`METHODS` names every way a client may authenticate and how its
credentials are read from a request's headers and form. The token,
revocation and introspection endpoints register exactly these with
Authlib, the metadata document lists them, and a client accepts them: to
add a method is to add an entry here (and its check).

:func:`check_credentials` decides whether presented credentials are good,
within the failure limits. The caller's address is passed in as a value,
so nothing here needs Flask (``tests/test_client_auth.py`` runs it with no
app).
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Mapping
from typing import TYPE_CHECKING
from typing import Any

from authlib.oauth2.rfc6749.util import extract_basic_authorization

from .clients import ClientRecord
from .errors import TooManyAttemptsError
from .limits import client_key

if TYPE_CHECKING:
    from .core import Core

__all__ = ["METHODS", "METHOD_NAMES", "Credentials", "check_credentials"]

#: (client id, secret) as presented; either may be missing.
Credentials = tuple[str | None, str | None]


def _basic(headers: Mapping[str, str], form: Mapping[str, str]) -> Credentials:
    """HTTP Basic (RFC 6749 §2.3.1), as Authlib parses it, minus its
    ``UnicodeDecodeError`` on odd bytes."""
    try:
        client_id, secret = extract_basic_authorization(headers)
    except (UnicodeDecodeError, ValueError):
        return None, None  # not UTF-8: no usable credentials
    return client_id, secret


def _post(headers: Mapping[str, str], form: Mapping[str, str]) -> Credentials:
    """``client_id`` and ``client_secret`` in the form body."""
    return form.get("client_id"), form.get("client_secret")


#: Every client-authentication method, by its RFC 7591 name.
METHODS: Mapping[str, Callable[[Mapping[str, str], Mapping[str, str]], Credentials]] = {
    "client_secret_basic": _basic,
    "client_secret_post": _post,
}
METHOD_NAMES: tuple[str, ...] = tuple(METHODS)


def basic_credentials(headers: Mapping[str, str]) -> Credentials:
    """The HTTP Basic credentials of a request, if any."""
    return _basic(headers, {})


def check_credentials(
    core: Core, client_id: str | None, secret: str | None, remote_addr: str | None
) -> ClientRecord | None:
    """The client, if ``secret`` is its secret; None otherwise.

    One bcrypt check whatever happens (two for a client whose rotated-out
    secret is in its grace period): unknown ids cost what wrong secrets
    cost, and the answer does not tell them apart. Over the failure limit
    (see :mod:`.limits` for which counters judge an attempt) nothing is
    checked and :class:`~.errors.TooManyAttemptsError` (429) is raised.
    """
    if not client_id or secret is None:
        return None
    limiter = core.limiter
    attempt = limiter.assess(client_id, remote_addr)
    client = core.store.find_client(client_id)
    # An id that names no client is audited by a fingerprint: it may be a
    # secret pasted into the wrong field, and must not reach a log.
    actor = client_id if client else "unknown:" + client_key(client_id)[:16]
    if attempt.retry_after is not None:
        _refused(core, actor, "rate_limited")
        raise TooManyAttemptsError(attempt.retry_after)
    previous = client.previous_secret_hash_at(core.clock()) if client else None
    if client is not None:
        # Checked with bcrypt before, against a hash the client still has?
        remembered = core.credentials.matched_hash(client_id, secret)
        if remembered is not None and remembered in (client.secret_hash, previous):
            limiter.succeeded(attempt, counted=False)
            return client
    # Counted before bcrypt runs, so concurrent guesses cannot all slip in
    # under the limit; taken back below if it succeeds.
    retry_after = limiter.record(attempt.keys)
    if retry_after is not None:
        _refused(core, actor, "rate_limited")
        raise TooManyAttemptsError(retry_after)
    if client is None:
        core.hasher.verify(secret, None)  # the same work as a wrong secret
    else:
        for stored in (client.secret_hash, previous):
            if stored is not None and core.hasher.verify(secret, stored):
                limiter.succeeded(attempt, counted=True)
                core.credentials.remember(client_id, secret, stored)
                return client
    _refused(core, actor, "invalid_client")
    return None


def _refused(core: Core, actor: str, outcome: str) -> Any:
    return core.audit("authentication_failed", actor=actor, outcome=outcome)
