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
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING
from typing import Any
from urllib.parse import quote
from urllib.parse import unquote
from urllib.parse import urlsplit

from joserfc.errors import JoseError
from joserfc.jwk import JWKRegistry

from .cache import BoundedCache
from .client_metadata import SIGNING_ALGORITHMS
from .client_metadata import algorithms_for
from .client_metadata import verification_registry
from .errors import InvalidDPoPProofError
from .errors import UnprocessableError
from .errors import UseDPoPNonceError

if TYPE_CHECKING:
    from .seams import Clock
    from .seams import SharedState

__all__ = [
    "PROOF_TYPE",
    "TOKEN_TYPE",
    "Nonces",
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
#: Members that make a JWK private (RFC 7517 §9.2; RFC 7518 §6).
_PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
_PUBLIC_TYPES = frozenset({"EC", "RSA", "OKP"})
_DEFAULT_PORTS = {"http": 80, "https": 443}
#: Characters left as they are when a path is re-encoded for comparison.
_PATH_SAFE = "/:@!$&'()*+,;=-._~"

logger = logging.getLogger("fides_oauth")


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def access_token_hash(token: str) -> str:
    """``ath``: base64url of the SHA-256 of the token's ASCII (RFC 9449 §4.2)."""
    return _b64url(hashlib.sha256(token.encode("ascii", "replace")).digest())


def normalized_url(url: str) -> str | None:
    """Scheme, host, port and path of ``url`` as RFC 3986 §6.2.2 and §6.2.3
    normalise them (no query, no fragment); None when it is no http(s) URL."""
    try:
        parts = urlsplit(url)
        port = parts.port
        path = quote(unquote(parts.path, errors="strict"), safe=_PATH_SAFE) or "/"
    except (ValueError, UnicodeError):
        return None
    scheme = parts.scheme.lower()
    host = parts.hostname
    if scheme not in _DEFAULT_PORTS or not host:
        return None
    netloc = f"[{host}]" if ":" in host else host
    if port is not None and port != _DEFAULT_PORTS[scheme]:
        netloc += f":{port}"
    return f"{scheme}://{netloc}{path}"


@dataclass(frozen=True)
class Proof:
    """A proof that passed :meth:`ProofChecker.check`, not yet claimed."""

    #: RFC 7638 SHA-256 thumbprint of the proof's key: the token's cnf.jkt.
    jkt: str
    jti: str
    #: Until when the jti must stay recorded (the proof's acceptance window).
    expires_at: float


class Nonces:
    """Stateless server nonces (RFC 9449 §8, §9): base64url of a time step
    and an HMAC of it under a key every worker derives from the same
    configured secret, so any worker accepts what another issued. A nonce
    is good for its step and the next one. Issued under the first key,
    accepted under any (the key-encryption keys' rotation order)."""

    def __init__(self, keys: Sequence[bytes], step: int, clock: Clock) -> None:
        if not keys:
            raise ValueError("Nonces need at least one key.")
        self._keys = tuple(keys)
        self._step = step
        self._clock = clock

    def __repr__(self) -> str:
        return f"<Nonces step={self._step}s>"

    def _for(self, step: int, key: bytes) -> str:
        packed = step.to_bytes(8, "big")
        mac = hmac.new(key, packed, hashlib.sha256).digest()[:16]
        return _b64url(packed + mac)

    def current(self) -> str:
        return self._for(int(self._clock() // self._step), self._keys[0])

    def accepts(self, nonce: Any) -> bool:
        if not isinstance(nonce, str) or len(nonce) != 32:
            return False
        try:
            raw = base64.urlsafe_b64decode(nonce + "==")
        except ValueError:
            return False
        step = int.from_bytes(raw[:8], "big")
        now = int(self._clock() // self._step)
        return step in (now, now - 1) and any(
            hmac.compare_digest(self._for(step, key), nonce) for key in self._keys
        )


@dataclass(frozen=True)
class _ProofKey:
    """What a proof's header settles: the key, its algorithm, its jkt."""

    key: Any
    algorithm: Any  # joserfc's model of the header's alg
    jkt: str


def _b64decode(segment: str) -> bytes:
    return base64.b64decode(
        segment + "=" * (-len(segment) % 4), altchars=b"-_", validate=True
    )


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
            claims = json.loads(_b64decode(body))
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
        if not abs(now - iat) <= self.max_age:  # NaN and Infinity fail too
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
        return Proof(found.jkt, jti, max(float(iat), now) + self.max_age)

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
            header = json.loads(_b64decode(head))
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
        if _PRIVATE_MEMBERS & jwk.keys():
            raise self._refuse(
                "private jwk", "The proof's jwk must hold the public key only."
            )
        if jwk.get("kty") not in _PUBLIC_TYPES:
            raise self._refuse("jwk type", "The proof's jwk must be EC, RSA or OKP.")
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
