"""DPoP proofs (RFC 9449; CONTRACT §8): one check, for the token endpoint
and for protected routes alike.

A proof is accepted when every rule holds:

- exactly one ``DPoP`` header, a compact JWS of at most 8 KiB;
- header ``typ`` is ``dpop+jwt``; ``alg`` is asymmetric (ES256, ES384,
  RS256, PS256, EdDSA) and fits the ``jwk``, which is a public key (a
  private member refuses the proof) that verifies the signature;
- ``htm`` is the request's method and ``htu`` its URL, compared without
  query and fragment after normalisation (scheme and host in lower case,
  default port dropped, percent-encoding decoded);
- ``iat`` is within ``FIDES_OAUTH_DPOP_PROOF_MAX_AGE`` seconds of now,
  either side;
- at a protected route, ``ath`` is the base64url SHA-256 of the access
  token presented with it;
- with ``FIDES_OAUTH_DPOP_REQUIRE_NONCE``, ``nonce`` is one this app
  issued for the current or the previous time step (:class:`Nonces`);
- its ``jti`` has not been seen for this key while the proof could be
  accepted: claimed in the shared state (SQL or Redis) with one atomic
  operation, so a proof replayed to another worker or host fails too.

:meth:`ProofChecker.check` runs every rule but the last, which costs a
write; the caller runs :meth:`ProofChecker.claim` once the request has
passed everything else, so an unauthenticated caller writes nothing.
Verification is joserfc's; the reason for a refusal goes to the log at
DEBUG, never the proof itself.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import re
import string
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING
from typing import Any
from urllib.parse import urlsplit

from joserfc.errors import JoseError
from joserfc.jwk import JWKRegistry

from .cache import BoundedCache
from .client_metadata import PRIVATE_MEMBERS
from .client_metadata import SIGNING_ALGORITHMS
from .client_metadata import algorithms_for
from .client_metadata import verification_registry
from .dpop_nonces import Nonces
from .dpop_nonces import b64url
from .errors import InvalidDPoPProofError
from .errors import UnprocessableError
from .errors import UseDPoPNonceError

if TYPE_CHECKING:
    from .seams import Clock
    from .seams import SharedState

__all__ = [
    "PROOF_TYPE",
    "TOKEN_TYPE",
    "Proof",
    "ProofChecker",
    "access_token_hash",
    "normalized_url",
]

PROOF_TYPE = "dpop+jwt"
#: ``token_type`` of a bound token (RFC 9449 §5), in responses and introspection.
TOKEN_TYPE = "DPoP"  # noqa: S105 - a token type, not a secret
_MAX_LENGTH = 8192
_MAX_JTI = 256
_PUBLIC_TYPES = frozenset({"EC", "RSA", "OKP"})
_BASE64URL = re.compile(r"[A-Za-z0-9_-]*")
#: RSA public keys a proof may carry: 2048 to 4096 bits, a small exponent.
#: Bigger ones cost milliseconds per request, before any authentication.
_RSA_MODULUS_BYTES = (256, 512)
_RSA_EXPONENT_BYTES = 4
_DEFAULT_PORTS = {"http": 80, "https": 443}
#: What an RFC 3986 URI may be made of (§2), and its unreserved characters.
_URI_CHARACTERS = re.compile(r"[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]*")
_UNRESERVED = frozenset(string.ascii_letters + string.digits + "-._~")
_ESCAPES = re.compile(r"%([0-9A-Fa-f]{2})")

logger = logging.getLogger("fides_oauth")


def access_token_hash(token: str) -> str:
    """``ath``: base64url of the SHA-256 of the token's ASCII (RFC 9449 §4.2)."""
    return b64url(hashlib.sha256(token.encode("ascii", "replace")).digest())


def _escape(match: re.Match[str]) -> str:
    char = chr(int(match.group(1), 16))
    return char if char in _UNRESERVED else "%" + match.group(1).upper()


def normalized_url(url: str) -> str | None:
    """Scheme, host, port and path of ``url`` after RFC 3986 syntax-based
    (§6.2.2: case; percent-encoded unreserved characters decoded, other
    escapes in upper case) and scheme-based (§6.2.3: default port, empty
    path) normalisation; no query, no fragment. Dot segments are compared
    as they stand. None for anything but an absolute http(s) URL made of
    RFC 3986 characters, without userinfo."""
    if not _URI_CHARACTERS.fullmatch(url):
        return None
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    host = parts.hostname
    if scheme not in _DEFAULT_PORTS or not host or "@" in parts.netloc:
        return None
    if "%" in _ESCAPES.sub("", parts.path):  # a stray '%'
        return None
    netloc = f"[{host}]" if ":" in host else host
    if port is not None and port != _DEFAULT_PORTS[scheme]:
        netloc += f":{port}"
    return f"{scheme}://{netloc}{_ESCAPES.sub(_escape, parts.path) or '/'}"


@dataclass(frozen=True)
class Proof:
    """A proof that passed :meth:`ProofChecker.check`, not yet claimed."""

    #: RFC 7638 SHA-256 thumbprint of the proof's key: the token's cnf.jkt.
    jkt: str
    jti: str
    #: Until when the jti must stay recorded (the proof's acceptance window).
    expires_at: float


@dataclass(frozen=True)
class _ProofKey:
    """What a proof's header settles: the key, its algorithm, its jkt."""

    key: Any
    algorithm: Any  # joserfc's model of the header's alg
    jkt: str


def _b64decode(segment: str) -> bytes:
    """base64url without padding, and nothing else (RFC 7515 §2)."""
    if not _BASE64URL.fullmatch(segment):
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def _json(segment: str) -> Any:
    """A segment's JSON; RecursionError (deep nesting) is malformed input
    too, as is NaN or Infinity."""
    try:
        return json.loads(_b64decode(segment), parse_constant=_no_constant)
    except RecursionError as exc:
        raise ValueError("nested too deeply") from exc


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _rsa_size_ok(jwk: dict[str, Any]) -> bool:
    try:
        modulus = _b64decode(str(jwk.get("n", ""))).lstrip(b"\0")
        exponent = _b64decode(str(jwk.get("e", ""))).lstrip(b"\0")
    except ValueError:
        return False
    low, high = _RSA_MODULUS_BYTES
    return low <= len(modulus) <= high and 0 < len(exponent) <= _RSA_EXPONENT_BYTES


class ProofChecker:
    """Checks DPoP proofs for one app (see the module's rules).

    A client signs every proof with the same key, so every proof it sends
    has the same header segment: what the header settles (``typ``, ``alg``,
    a public ``jwk`` that fits it, the key object, its thumbprint) is worked
    out once per segment and kept in a bounded cache. Each proof then costs
    a payload parse and one signature check (joserfc's algorithm model).
    """

    algorithms = SIGNING_ALGORITHMS

    def __init__(
        self,
        shared: SharedState,
        clock: Clock,
        max_age: int,
        nonces: Nonces | None,
        key_cache_size: int = 1024,
    ) -> None:
        self._shared = shared
        self._clock = clock
        self.max_age = max_age
        #: Set when proofs must carry a server nonce.
        self.nonces = nonces
        self._headers: BoundedCache[str, _ProofKey] = BoundedCache(key_cache_size)
        self._urls: BoundedCache[str, str | None] = BoundedCache(256)

    def __repr__(self) -> str:
        return f"<ProofChecker max_age={self.max_age}s nonces={self.nonces!r}>"

    def check(
        self,
        values: Sequence[str],
        method: str,
        url: str,
        *,
        access_token: str | None = None,
    ) -> Proof:
        """The proof among the request's ``DPoP`` header ``values``, checked
        against the request's ``method`` and ``url`` (and the access token
        presented with it, at a protected route). Raises
        :class:`~fides_oauth.errors.InvalidDPoPProofError` or, when a nonce
        is required and missing or stale,
        :class:`~fides_oauth.errors.UseDPoPNonceError`."""
        if len(values) != 1:
            raise self._refuse(
                "no DPoP header" if not values else "several DPoP headers",
                "Send exactly one DPoP header."
                if values
                else "Send a DPoP proof in the DPoP header.",
            )
        value = values[0]
        if len(value) > _MAX_LENGTH or not value.isascii():
            raise self._refuse("proof too long or not ASCII")
        segments = value.split(".")
        if len(segments) != 3:
            raise self._refuse("not a compact JWS")
        head, body, signature = segments
        found = self._headers.get(head)
        if found is None:
            found = self._settle_header(head)
            self._headers.put(head, found)
        try:
            claims = _json(body)
            raw_signature = _b64decode(signature)
            valid = found.algorithm.verify(
                f"{head}.{body}".encode("ascii"), raw_signature, found.key
            )
        except (JoseError, ValueError, TypeError) as exc:
            raise self._refuse("payload or signature unreadable") from exc
        if not valid:
            raise self._refuse("signature")
        if not isinstance(claims, dict):
            raise self._refuse("claims are not an object")
        now = self._clock()
        self._check_request(claims, method, url)
        iat = claims.get("iat")
        if isinstance(iat, bool) or not isinstance(iat, (int, float)):
            raise self._refuse("iat missing")
        try:
            issued = float(iat)
        except OverflowError as exc:  # an integer past any float
            raise self._refuse("iat out of range") from exc
        if not abs(now - issued) <= self.max_age:
            raise self._refuse(
                "iat out of range",
                "The proof's iat is too far from the server's time.",
            )
        jti = claims.get("jti")
        if not isinstance(jti, str) or not 1 <= len(jti) <= _MAX_JTI:
            raise self._refuse("jti missing")
        if access_token is not None and not hmac.compare_digest(
            str(claims.get("ath", "")).encode("utf-8", "replace"),
            access_token_hash(access_token).encode("ascii"),
        ):
            raise self._refuse(
                "ath", "The proof's ath does not match the access token."
            )
        if self.nonces is not None and not self.nonces.accepts(claims.get("nonce")):
            raise UseDPoPNonceError(
                "Sign the proof again with the nonce in the DPoP-Nonce header.",
                nonce=self.nonces.current(),
            )
        # Remembered a second past the last moment it is accepted: stores
        # count an entry as gone at its expiry instant.
        return Proof(found.jkt, jti, max(issued, now) + self.max_age + 1)

    def claim(self, proof: Proof) -> None:
        """Record the proof's ``jti`` for its key; a replay is refused."""
        key = hashlib.sha256(
            f"dpop\x00{proof.jkt}\x00{proof.jti}".encode("utf-8", "surrogatepass")
        ).hexdigest()
        if not self._shared.claim_once(key, proof.expires_at, self._clock()):
            raise self._refuse("jti replayed", "This DPoP proof was used before.")

    def current_nonce(self) -> str | None:
        """The nonce to send in ``DPoP-Nonce``, when nonces are required."""
        return self.nonces.current() if self.nonces is not None else None

    # -- the parts ----------------------------------------------------------

    def _refuse(
        self, reason: str, description: str | None = None
    ) -> InvalidDPoPProofError:
        logger.debug("DPoP proof refused: %s", reason)
        return InvalidDPoPProofError(description, nonce=self.current_nonce())

    def _settle_header(self, head: str) -> _ProofKey:
        """RFC 9449 §4.3 checks 4 to 7, but the signature itself."""
        try:
            header = _json(head)
        except (ValueError, TypeError) as exc:
            raise self._refuse("header unreadable") from exc
        if not isinstance(header, dict):
            raise self._refuse("header is not an object")
        typ = header.get("typ")
        if not isinstance(typ, str) or typ.lower() != PROOF_TYPE:
            raise self._refuse("typ", "The proof's typ must be dpop+jwt.")
        if "crit" in header:  # RFC 7515 §4.1.11: no extension is understood
            raise self._refuse("crit")
        algorithm = header.get("alg")
        if algorithm not in self.algorithms:
            raise self._refuse(
                "alg",
                "The proof must be signed with one of: "
                + " ".join(self.algorithms)
                + ".",
            )
        jwk = header.get("jwk")
        if not isinstance(jwk, dict):
            raise self._refuse("no jwk", "The proof's header must carry its jwk.")
        if PRIVATE_MEMBERS & jwk.keys():
            raise self._refuse(
                "private jwk", "The proof's jwk must hold the public key only."
            )
        if jwk.get("kty") not in _PUBLIC_TYPES:
            raise self._refuse("jwk type", "The proof's jwk must be EC, RSA or OKP.")
        if jwk["kty"] == "RSA" and not _rsa_size_ok(jwk):
            raise self._refuse(
                "RSA size", "An RSA proof key must have 2048 to 4096 bits."
            )
        try:
            key = JWKRegistry.import_key(dict(jwk))
            allowed = algorithms_for(key)
            model = verification_registry(str(algorithm)).get_alg(str(algorithm))
            model.check_key(key)
            thumbprint = key.thumbprint()
        except (JoseError, ValueError, TypeError, UnprocessableError) as exc:
            raise self._refuse("jwk unusable", "The proof's jwk is unusable.") from exc
        if algorithm not in allowed:
            raise self._refuse("alg does not fit the jwk")
        return _ProofKey(key, model, thumbprint)

    def _check_request(self, claims: dict[str, Any], method: str, url: str) -> None:
        if claims.get("htm") != method:
            raise self._refuse("htm", "The proof's htm is not this request's method.")
        htu = claims.get("htu")
        expected = self._urls.get(url)
        if expected is None:  # one request URL per route: normalised once
            expected = normalized_url(url)
            self._urls.put(url, expected)
        if not isinstance(htu, str) or expected is None:
            raise self._refuse("htu missing")
        if normalized_url(htu) != expected:
            raise self._refuse("htu", "The proof's htu is not this request's URL.")
