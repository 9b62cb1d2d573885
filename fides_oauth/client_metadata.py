"""Client metadata (CONTRACT §7, RFC 7591 names): parsed, checked, resolved.

- ``token_endpoint_auth_method``: ``client_secret_basic`` (the default) or
  ``client_secret_post`` — a secret client may use either — or
  ``private_key_jwt``, a client with no secret that signs assertions.
- ``jwks`` (public keys, each with a ``kid``) or ``jwks_uri`` (``https``):
  exactly one for ``private_key_jwt``, none for a secret client.
- ``access_token_lifetime``: seconds, 60 to 86400; unset, the app's.
- ``dpop_bound_access_tokens``: stored for the DPoP feature.

Anything else is 422 with nothing written. Key material is checked with
joserfc: a key that holds private members, of an unsupported type, or too
weak, is refused.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from joserfc.errors import JoseError
from joserfc.errors import SecurityWarning
from joserfc.jwk import ECKey
from joserfc.jwk import JWKRegistry
from joserfc.jwk import OKPKey
from joserfc.jwk import RSAKey
from joserfc.jws import JWSRegistry

from .errors import UnprocessableError
from .models import JWKS_URI_MAX_LENGTH

__all__ = [
    "AUTH_METHODS",
    "KEY_METHOD",
    "LIFETIME_RANGE",
    "PRIVATE_MEMBERS",
    "SECRET_METHODS",
    "SIGNING_ALGORITHMS",
    "MetadataChanges",
    "Resolved",
    "algorithms_for",
    "parse_metadata",
    "resolve",
    "verification_registry",
]

KEY_METHOD = "private_key_jwt"
SECRET_METHODS = ("client_secret_basic", "client_secret_post")
AUTH_METHODS = (*SECRET_METHODS, KEY_METHOD)
LIFETIME_RANGE = (60, 86400)
FIELDS = (
    "token_endpoint_auth_method",
    "jwks",
    "jwks_uri",
    "access_token_lifetime",
    "dpop_bound_access_tokens",
)
_MAX_KEYS = 20
#: Members that make a JWK private (RFC 7517 §9.2; RFC 7518 §6), or secret.
PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
_RSA_MIN_BITS = 2048
_EC_ALGORITHMS = {"P-256": "ES256", "P-384": "ES384"}
#: Asymmetric only, each pinned by the key that verifies it.
SIGNING_ALGORITHMS = ("ES256", "ES384", "RS256", "PS256", "EdDSA")
_UNSET: Any = object()


@dataclass(frozen=True)
class MetadataChanges:
    """What a body says about the metadata; ``UNSET`` fields are not named."""

    method: Any = _UNSET
    jwks: Any = _UNSET
    jwks_uri: Any = _UNSET
    lifetime: Any = _UNSET
    dpop: Any = _UNSET


@dataclass(frozen=True)
class Resolved:
    """A client's metadata after a change, checked as a whole."""

    method: str
    jwks: dict[str, Any] | None
    jwks_uri: str | None
    lifetime: int | None
    dpop: bool


def _error(message: str) -> UnprocessableError:
    return UnprocessableError(message)


def parse_metadata(
    data: Mapping[str, Any], allow_loopback_http: bool = False
) -> MetadataChanges:
    """The metadata fields of a create or update body, each checked alone."""
    values: dict[str, Any] = {}
    if "token_endpoint_auth_method" in data:
        method = data["token_endpoint_auth_method"]
        if method not in AUTH_METHODS:
            raise _error(
                "'token_endpoint_auth_method' must be one of "
                + ", ".join(AUTH_METHODS)
                + "."
            )
        values["method"] = method
    if "jwks" in data:
        values["jwks"] = None if data["jwks"] is None else check_jwks(data["jwks"])
    if "jwks_uri" in data:
        uri = data["jwks_uri"]
        values["jwks_uri"] = (
            None if uri is None else check_jwks_uri(uri, allow_loopback_http)
        )
    if "access_token_lifetime" in data:
        lifetime = data["access_token_lifetime"]
        low, high = LIFETIME_RANGE
        if lifetime is not None and (
            isinstance(lifetime, bool)
            or not isinstance(lifetime, int)
            or not low <= lifetime <= high
        ):
            raise _error(
                f"'access_token_lifetime' must be whole seconds from {low} to "
                f"{high}, or null for the server's default."
            )
        values["lifetime"] = lifetime
    if "dpop_bound_access_tokens" in data:
        dpop = data["dpop_bound_access_tokens"]
        if not isinstance(dpop, bool):
            raise _error("'dpop_bound_access_tokens' must be true or false.")
        values["dpop"] = dpop
    return MetadataChanges(**values)


def resolve(current: Resolved | None, changes: MetadataChanges) -> Resolved:
    """The metadata after ``changes`` (on a new client when ``current`` is
    None), checked as a whole: keys only for ``private_key_jwt``, and then
    exactly one of ``jwks`` and ``jwks_uri``."""
    base = current or Resolved(SECRET_METHODS[0], None, None, None, False)

    def pick(value: Any, old: Any) -> Any:
        return old if value is _UNSET else value

    method = pick(changes.method, base.method)
    if current is not None and current.method == KEY_METHOD and method != KEY_METHOD:
        raise _error(
            "A private_key_jwt client has no secret: it cannot become a secret "
            "client. Create a new client instead."
        )
    jwks = pick(changes.jwks, base.jwks)
    jwks_uri = pick(changes.jwks_uri, base.jwks_uri)
    if changes.jwks_uri is not _UNSET and changes.jwks_uri is not None:
        jwks = None if changes.jwks is _UNSET else jwks  # the URI replaces keys
    if changes.jwks is not _UNSET and changes.jwks is not None:
        jwks_uri = None if changes.jwks_uri is _UNSET else jwks_uri
    if method == KEY_METHOD:
        if (jwks is None) == (jwks_uri is None):
            raise _error(
                "A private_key_jwt client needs exactly one of 'jwks' and 'jwks_uri'."
            )
    elif jwks is not None or jwks_uri is not None:
        raise _error(
            "'jwks' and 'jwks_uri' are for private_key_jwt clients only; a "
            "secret client has no keys."
        )
    return Resolved(
        method,
        jwks,
        jwks_uri,
        pick(changes.lifetime, base.lifetime),
        pick(changes.dpop, base.dpop),
    )


def check_jwks(value: Any) -> dict[str, Any]:
    """A JWK Set of public signing keys, each with a ``kid``; as stored."""
    if not isinstance(value, dict) or set(value) != {"keys"}:
        raise _error("'jwks' must be a JSON object {\"keys\": [...]}.")
    keys = value["keys"]
    if not isinstance(keys, list) or not 1 <= len(keys) <= _MAX_KEYS:
        raise _error(f"'jwks' must hold 1 to {_MAX_KEYS} keys.")
    kids: set[str] = set()
    public: list[dict[str, Any]] = []
    for index, key in enumerate(keys):
        where = f"'jwks' key {index + 1}"
        if not isinstance(key, dict):
            raise _error(f"{where} is not a JSON object.")
        kid = key.get("kid")
        if not isinstance(kid, str) or not 1 <= len(kid) <= 200 or kid in kids:
            raise _error(f"{where} needs a 'kid' of its own (1 to 200 characters).")
        kids.add(kid)
        imported = _import_public(key, where)
        algorithms_for(imported)  # a supported, strong enough key
        public.append(dict(key))
    return {"keys": public}


def _import_public(key: dict[str, Any], where: str) -> Any:
    if key.get("use") not in (None, "sig"):
        raise _error(f"{where} must be a signing key ('use': 'sig').")
    try:
        with warnings.catch_warnings():
            # joserfc warns on weak keys; algorithms_for refuses them.
            warnings.simplefilter("ignore", SecurityWarning)
            imported = JWKRegistry.import_key(key)
    except (JoseError, ValueError, TypeError, KeyError) as exc:
        raise _error(f"{where} is not a valid public JWK.") from exc
    if imported.is_private or any(m in key for m in PRIVATE_MEMBERS):
        raise _error(f"{where} holds private key material: send the public key only.")
    return imported


def algorithms_for(key: Any) -> list[str]:
    """The asymmetric algorithms a client key may sign with: pinned by the
    key's type (and ``alg``, when the key names one)."""
    if isinstance(key, ECKey):
        crv = key.as_dict().get("crv")
        if crv not in _EC_ALGORITHMS:
            raise _error(f"EC keys must be on {', '.join(_EC_ALGORITHMS)}.")
        allowed = [_EC_ALGORITHMS[crv]]
    elif isinstance(key, RSAKey):
        if key.raw_value.key_size < _RSA_MIN_BITS:
            raise _error(f"RSA keys must have at least {_RSA_MIN_BITS} bits.")
        allowed = ["RS256", "PS256"]
    elif isinstance(key, OKPKey):
        if key.as_dict().get("crv") != "Ed25519":
            raise _error("OKP keys must be Ed25519.")
        allowed = ["EdDSA"]
    else:
        raise _error("Keys must be EC, RSA or OKP (Ed25519) signing keys.")
    named = key.as_dict().get("alg") if hasattr(key, "as_dict") else None
    if named is not None:
        if named not in allowed:
            raise _error(f"The key's 'alg' {named!r} does not fit its type.")
        return [named]
    return allowed


def check_jwks_uri(value: Any, allow_loopback_http: bool) -> str:
    if not isinstance(value, str) or not 1 <= len(value) <= JWKS_URI_MAX_LENGTH:
        raise _error("'jwks_uri' must be an https URL.")
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises on a port out of range
    except ValueError:  # an unclosed IPv6 bracket, a port past 65535
        raise _error("'jwks_uri' must be an https URL.") from None
    loopback = parts.hostname in ("127.0.0.1", "localhost", "::1")
    if parts.scheme != "https" and not (
        allow_loopback_http and parts.scheme == "http" and loopback
    ):
        raise _error("'jwks_uri' must be an https URL.")
    if not parts.hostname or parts.username or parts.password or parts.fragment:
        raise _error("'jwks_uri' must be an https URL without credentials.")
    return value


class _Registry(JWSRegistry):
    """joserfc's algorithms, with EdDSA verified quietly: CONTRACT §7 names
    EdDSA, and joserfc warns on every use since RFC 9864 (which prefers the
    name Ed25519); a warning per request would flood the log."""

    algorithms = dict(JWSRegistry.algorithms)  # noqa: RUF012 - joserfc's shape
    # A DPoP proof carries its public key in the header: an RSA-4096 JWK
    # is about 800 bytes, past joserfc's default of 512.
    max_header_length = 4096


_EDDSA = JWSRegistry.algorithms["EdDSA"]
_Registry.algorithms["EdDSA"] = type(
    "QuietEdDSA", (type(_EDDSA),), {"security_warning": None}
)()


@functools.lru_cache(maxsize=32)
def verification_registry(
    algorithm: str | None = None, *, strict: bool = True
) -> JWSRegistry:
    """A joserfc registry allowing the one asymmetric ``algorithm`` a key is
    pinned to (client assertions and DPoP proofs); with no algorithm, one to
    parse with. ``strict=False`` lets header members joserfc does not know
    through (RFC 9449 §4.2: a proof "MAY contain other JOSE Header
    Parameters")."""
    return _Registry(
        algorithms=[algorithm] if algorithm else None, strict_check_header=strict
    )
