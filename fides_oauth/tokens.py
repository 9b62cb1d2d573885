"""Verifying access tokens: one definition of "valid", used by protected
routes, introspection (RFC 7662) and revocation (RFC 7009).

A token is valid when its ES256 signature checks against one of the app's
keys, its header says ``typ: at+jwt``, its ``iss``, ``aud``, ``exp`` and
``iat`` check out, its client still exists with the token generation the
token was issued under, and its ``jti`` has not been revoked. Its effective
scopes are its own scopes intersected with the client's current ones.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING
from typing import Any

from authlib.oauth2.rfc6750.errors import InvalidTokenError
from authlib.oauth2.rfc9068.claims import JWTAccessTokenClaims
from joserfc import jwt
from joserfc.errors import InvalidKeyIdError
from joserfc.errors import JoseError

from .clients import ClientRecord
from .errors import REALM
from .keys import ALGORITHM

if TYPE_CHECKING:
    from .core import Core

__all__ = [
    "MAX_TOKEN_LENGTH",
    "AuthenticatedClient",
    "VerifiedToken",
    "confirmation_of",
    "decode_token",
    "verify_token",
]

#: Longer token strings are refused before any parsing.
MAX_TOKEN_LENGTH = 8192
_ACCESS_TOKEN_TYPES = frozenset({"at+jwt", "application/at+jwt"})
_DECODE_ERRORS = (
    JoseError,
    ValueError,
    TypeError,
    KeyError,
    UnicodeError,
    RecursionError,
)


@dataclass(frozen=True)
class AuthenticatedClient:
    """The caller of a protected route, as :data:`current_client` gives it."""

    client_id: str
    #: The token's scopes that the client still holds.
    scopes: frozenset[str]
    is_root: bool
    #: The verified claims of the access token (read-only).
    claims: Mapping[str, Any]

    def __repr__(self) -> str:
        return f"<AuthenticatedClient {self.client_id} scopes={sorted(self.scopes)}>"


@dataclass(frozen=True)
class VerifiedToken:
    claims: Mapping[str, Any]
    client: ClientRecord
    #: The token's scopes that the client still holds.
    scopes: frozenset[str]
    #: What a protected view sees of it, built once per verification.
    caller: AuthenticatedClient

    @property
    def client_id(self) -> str:
        return self.client.client_id

    @property
    def jkt(self) -> str | None:
        """The DPoP key thumbprint the token is bound to (``cnf.jkt``)."""
        return confirmation_of(self.claims)


def confirmation_of(claims: Mapping[str, Any]) -> str | None:
    """``cnf.jkt`` of a token's claims: the key it is bound to, if any."""
    cnf = claims.get("cnf")
    jkt = cnf.get("jkt") if isinstance(cnf, Mapping) else None
    return jkt if isinstance(jkt, str) else None


def invalid_token(description: str | None = None) -> InvalidTokenError:
    return InvalidTokenError(description=description, realm=REALM)


def decode_token(core: Core, token_string: str, issuer: str) -> dict[str, Any]:
    """The claims of a token this app signed for ``issuer`` and that has
    not expired."""
    audience = core.config.audience or issuer
    if not isinstance(token_string, str) or len(token_string) > MAX_TOKEN_LENGTH:
        raise invalid_token()
    try:
        try:
            token = jwt.decode(
                token_string, core.keys.verification_keys(), algorithms=[ALGORITHM]
            )
        except InvalidKeyIdError:
            # Perhaps another worker rotated the key: look once more.
            token = jwt.decode(
                token_string,
                core.keys.verification_keys(refresh=True),
                algorithms=[ALGORITHM],
            )
    except _DECODE_ERRORS as exc:
        raise invalid_token() from exc
    # RFC 9068 §4: "Resource servers MUST verify that the typ header value
    # is "at+jwt" or "application/at+jwt" and reject tokens carrying any
    # other value" (media types compare without regard to case).
    typ = token.header.get("typ")
    if not isinstance(typ, str) or typ.lower() not in _ACCESS_TOKEN_TYPES:
        raise invalid_token()
    claims = JWTAccessTokenClaims(
        token.claims,
        token.header,
        {
            "iss": {"essential": True, "value": issuer},
            "aud": {"essential": True, "value": audience},
            "exp": {"essential": True},
            "iat": {"essential": True},
            "sub": {"essential": True},
            "client_id": {"essential": True},
            "jti": {"essential": True},
            # A client created with no scopes holds a token with scope "".
            "scope": {"essential": False, "allow_blank": True},
        },
    )
    try:
        claims.validate(now=int(core.clock()))
    except _DECODE_ERRORS as exc:
        raise invalid_token() from exc
    for name in ("client_id", "jti"):
        if not isinstance(claims.get(name), str):
            raise invalid_token()
    if not isinstance(claims.get("scope", ""), str):
        raise invalid_token()
    return dict(claims)


def verify_token(core: Core, token_string: str, issuer: str) -> VerifiedToken:
    """Decode, then check the token against its client as it is now.

    A token this process verified before, with no change committed to the
    store since (the change counter stands), is answered from memory —
    strictly, or as pushed within the staleness bound (:mod:`.invalidation`).
    """
    counter = core.changes.current()
    key = (token_string, issuer, core.config.audience or issuer)
    if counter is not None:
        remembered = core.verified.get(key, counter, core.clock())
        if remembered is not None:
            return remembered  # type: ignore[no-any-return]
    verified = _verify_fully(core, token_string, issuer)
    if counter is not None:
        expires_at = float(verified.claims["exp"])
        core.verified.put(key, counter, expires_at, verified)
    return verified


def _verify_fully(core: Core, token_string: str, issuer: str) -> VerifiedToken:
    claims = decode_token(core, token_string, issuer)
    found = core.store.client_for_token(claims["client_id"], claims["jti"])
    if found is None:
        raise invalid_token("The client of this token no longer exists.")
    client, revoked = found
    if revoked or claims.get("gen", 0) != client.token_generation:
        raise invalid_token("This token has been revoked.")
    effective = frozenset(claims.get("scope", "").split()) & client.scopes
    frozen = MappingProxyType(claims)
    caller = AuthenticatedClient(client.client_id, effective, client.is_root, frozen)
    return VerifiedToken(frozen, client, effective, caller)
