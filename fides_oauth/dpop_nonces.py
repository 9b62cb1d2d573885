"""Stateless DPoP server nonces (RFC 9449 §8, §9).

A nonce is the base64url of a time step and an HMAC of it, so checking one
needs no storage: every worker and host derives the same keys from the
configured secrets (the KEKs, or the signing key) and accepts what another
issued. RFC 9449 §8 asks that "Nonce values MUST be unpredictable": without
the key, the next step's nonce cannot be computed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Sequence
from typing import TYPE_CHECKING
from typing import Any

if TYPE_CHECKING:
    from .seams import Clock

__all__ = ["Nonces", "b64url"]


def b64url(data: bytes) -> str:
    """base64url without padding (RFC 7515 §2)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


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
        return b64url(packed + mac)

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
