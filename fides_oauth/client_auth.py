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

import logging
from collections.abc import Callable
from collections.abc import Mapping
from typing import TYPE_CHECKING
from typing import Any

from authlib.oauth2.rfc6749.util import extract_basic_authorization

from .assertions import ASSERTION_TYPE
from .assertions import AssertionRejected
from .assertions import check_assertion
from .assertions import claimed_issuer
from .client_metadata import KEY_METHOD
from .clients import ClientRecord
from .errors import TooManyAttemptsError
from .limits import client_key

if TYPE_CHECKING:
    from .core import Core

__all__ = [
    "METHODS",
    "METHOD_NAMES",
    "Credentials",
    "check_assertion_credentials",
    "check_credentials",
]

logger = logging.getLogger("fides_oauth")

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


#: The secret methods, by their RFC 7591 names: where each reads the
#: credentials from.
METHODS: Mapping[str, Callable[[Mapping[str, str], Mapping[str, str]], Credentials]] = {
    "client_secret_basic": _basic,
    "client_secret_post": _post,
}
#: Every method, the signed-assertion one included (RFC 7523).
METHOD_NAMES: tuple[str, ...] = (*METHODS, KEY_METHOD)


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
    if client is not None and client.uses_keys:
        client = None  # fail closed: no secret opens a private_key_jwt client
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
    if client is None or client.secret_hash is None:
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


def check_assertion_credentials(
    core: Core,
    form: Mapping[str, str],
    remote_addr: str | None,
    issuer: str,
) -> ClientRecord | None:
    """The client a ``private_key_jwt`` assertion authenticates; None if
    there is none or it fails (:mod:`.assertions` has the rules). Failures
    count against the same limits as wrong secrets."""
    if form.get("client_assertion_type") != ASSERTION_TYPE:
        return None
    assertion = form.get("client_assertion")
    if not assertion:
        return None
    try:
        _, unverified = claimed_issuer(assertion)
    except AssertionRejected:
        _refused(core, "unknown:assertion", "invalid_client")
        return None
    client_id = unverified.get("iss")
    named = form.get("client_id")
    if (
        not isinstance(client_id, str)
        or not client_id
        or (named and named != client_id)
    ):
        _refused(core, "unknown:assertion", "invalid_client")
        return None
    attempt = core.limiter.assess(client_id, remote_addr)
    client = core.store.find_client(client_id)
    actor = client_id if client else "unknown:" + client_key(client_id)[:16]
    if attempt.retry_after is not None:
        _refused(core, actor, "rate_limited")
        raise TooManyAttemptsError(attempt.retry_after)
    try:
        if client is None:
            raise AssertionRejected("unknown client")
        check_assertion(core, client, assertion, issuer, issuer + "/oauth/token")
    except AssertionRejected as why:
        logger.debug("client assertion refused: %s", why)
        retry_after = core.limiter.record(attempt.keys)
        _refused(core, actor, "invalid_client")
        if retry_after is not None:
            raise TooManyAttemptsError(retry_after) from None
        return None
    core.limiter.succeeded(attempt, counted=False)
    return client
