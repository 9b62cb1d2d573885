"""``private_key_jwt`` client assertions (RFC 7523 §3, RFC 10070; CONTRACT §7).

An assertion is accepted only when every rule holds:

- ``iss`` = ``sub`` = a stored ``private_key_jwt`` client's id (and the
  form's ``client_id``, when given);
- ``aud`` is the issuer, as a single string (RFC 10070); with
  ``FIDES_OAUTH_CLIENT_ASSERTION_AUDIENCE = "legacy"`` the token endpoint
  URL, or a one-element array of either, is accepted too;
- ``exp`` is present, not past (60 s leeway) and at most 300 s ahead (the
  same leeway);
- the signature verifies with one of the client's keys, under an
  asymmetric algorithm that key allows (a header ``kid`` must name one of
  them);
- ``typ`` is absent, ``JWT`` or ``client-authentication+jwt``;
- ``jti`` has not been seen for this client while the assertion lives:
  claimed with one atomic operation in the shared state.

Verification is joserfc's; nothing here hand-rolls JOSE. Any failure is
:class:`AssertionRejected`, which the caller answers with the same
``invalid_client`` as a wrong secret; the reason goes to the log at DEBUG,
never the assertion itself.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
from collections.abc import Mapping
from typing import TYPE_CHECKING
from typing import Any

from joserfc import jws
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import JWKRegistry

from .client_metadata import algorithms_for
from .client_metadata import verification_registry
from .clients import ClientRecord
from .jwks_fetch import FetchFailed

if TYPE_CHECKING:
    from .core import Core

__all__ = [
    "ASSERTION_TYPE",
    "MAX_AHEAD",
    "AssertionRejected",
    "check_assertion",
    "claimed_issuer",
]

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
LEEWAY = 60
MAX_AHEAD = 300
_MAX_LENGTH = 8192
_TYPES = (None, "jwt", "client-authentication+jwt")

logger = logging.getLogger("fides_oauth")


class AssertionRejected(Exception):
    """Why an assertion failed (for the log, never for the client)."""


def claimed_issuer(assertion: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The header and claims of an assertion, not yet verified."""
    if not isinstance(assertion, str) or len(assertion) > _MAX_LENGTH:
        raise AssertionRejected("assertion missing or too long")
    try:
        compact = jws.extract_compact(assertion.encode("ascii"))
        claims = json.loads(compact.payload)
    except (JoseError, ValueError, UnicodeError, RecursionError) as exc:
        raise AssertionRejected("not a compact JWS with a JSON payload") from exc
    if not isinstance(claims, dict):
        raise AssertionRejected("claims are not an object")
    return dict(compact.headers()), claims


def check_assertion(
    core: Core,
    client: ClientRecord,
    assertion: str,
    issuer: str,
    token_endpoint: str,
) -> None:
    """Raise :class:`AssertionRejected` unless ``assertion`` authenticates
    ``client`` (see the module's rules)."""
    header, _ = claimed_issuer(assertion)
    if not client.uses_keys:
        raise AssertionRejected("the client authenticates with a secret")
    typ = header.get("typ")
    if (typ.lower() if isinstance(typ, str) else typ) not in _TYPES:
        raise AssertionRejected("typ")
    key, algorithm = _key_for(core, client, header)
    try:
        # A registry that allows the one algorithm the client's key is pinned to.
        registry = verification_registry(algorithm)
        token = jwt.decode(assertion, key, registry=registry)
    except (JoseError, ValueError, TypeError) as exc:
        raise AssertionRejected("signature") from exc
    claims = token.claims
    now = core.clock()
    if claims.get("iss") != client.client_id or claims.get("sub") != client.client_id:
        raise AssertionRejected("iss/sub")
    _check_audience(claims.get("aud"), issuer, token_endpoint, core)
    exp = claims.get("exp")
    if isinstance(exp, bool) or not isinstance(exp, (int, float)):
        raise AssertionRejected("exp missing")
    if isinstance(exp, float) and not math.isfinite(exp):  # JSON allows NaN
        raise AssertionRejected("exp not a finite number")
    if exp <= now - LEEWAY or exp > now + MAX_AHEAD + LEEWAY:
        raise AssertionRejected("exp out of range")
    nbf = claims.get("nbf")
    if isinstance(nbf, (int, float)) and (not math.isfinite(nbf) or nbf > now + LEEWAY):
        raise AssertionRejected("not yet valid")
    jti = claims.get("jti")
    if not isinstance(jti, str) or not 1 <= len(jti) <= 256:
        raise AssertionRejected("jti missing")
    key_of_jti = hashlib.sha256(
        f"assertion\x00{client.client_id}\x00{jti}".encode("utf-8", "surrogatepass")
    ).hexdigest()
    if not core.limiter.shared.claim_once(key_of_jti, float(exp) + LEEWAY, now):
        raise AssertionRejected("jti replayed")


def _client_keys(core: Core, client: ClientRecord, kid: Any) -> list[Any]:
    """The client's public keys: stored, or from its jwks_uri (refetched
    once when the header names a kid the cached set does not have)."""
    if client.jwks_uri is None:
        return list((client.jwks or {}).get("keys", []))
    try:
        keys = list(core.jwks.keys(client.jwks_uri)["keys"])
        if kid is not None and all(k.get("kid") != kid for k in keys):
            keys = list(core.jwks.keys(client.jwks_uri, refresh=True)["keys"])
    except FetchFailed as exc:
        # The operator must hear of a broken jwks_uri (never the assertion).
        logger.warning("jwks_uri of client %s unusable: %s", client.client_id, exc)
        raise AssertionRejected(f"jwks_uri: {exc}") from exc
    return keys


def _key_for(
    core: Core, client: ClientRecord, header: Mapping[str, Any]
) -> tuple[Any, str]:
    """The client key that verifies, and the algorithm pinned to it."""
    algorithm = header.get("alg")
    kid = header.get("kid")
    keys = _client_keys(core, client, kid)
    candidates = [k for k in keys if kid is None or k.get("kid") == kid]
    if kid is not None and not candidates:
        raise AssertionRejected("unknown kid")
    for data in candidates:
        key = JWKRegistry.import_key(dict(data))
        if algorithm in algorithms_for(key):
            return key, str(algorithm)
    raise AssertionRejected("no key of the client allows this algorithm")


def _check_audience(aud: Any, issuer: str, token_endpoint: str, core: Core) -> None:
    if aud == issuer:
        return
    if core.config.legacy_assertion_audience:
        accepted = (issuer, token_endpoint)
        if aud in accepted:
            return
        if isinstance(aud, list) and len(aud) == 1 and aud[0] in accepted:
            return
    raise AssertionRejected("aud")
