"""Per-process caches on the hot paths, kept correct by the change counter.

- :class:`VerifiedTokens` remembers tokens already verified, tagged with the
  counter read *before* verifying them: any change committed since (a scope
  cut, a deletion, a revocation) raises the counter, and the entry no longer
  counts. A reused token then costs one counter read, not a signature check
  and a client reload.
- :class:`Credentials` remembers which stored hash a client id and secret
  matched, keyed by an HMAC under a key that lives and dies with the process,
  so bcrypt runs once per credential per process and no plaintext secret is
  kept; a rotated-out or deleted secret no longer matches the stored hash.

Every cache has a fixed bound and evicts the least recently used entry.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
from collections import OrderedDict
from typing import Any
from typing import Generic
from typing import TypeVar

__all__ = ["BoundedCache", "Credentials", "VerifiedTokens"]

K = TypeVar("K")
V = TypeVar("V")


class BoundedCache(Generic[K, V]):
    """A thread-safe LRU map holding at most ``size`` entries."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._data: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._data)

    def get(self, key: K) -> V | None:
        with self._lock:
            value = self._data.get(key)
            if value is not None:
                self._data.move_to_end(key)
            return value

    def put(self, key: K, value: V) -> None:
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self.size:
                self._data.popitem(last=False)

    def discard(self, key: K) -> None:
        with self._lock:
            self._data.pop(key, None)


class VerifiedTokens:
    """Tokens verified by this process, valid while the counter stands."""

    def __init__(self, size: int = 10_000) -> None:
        self._cache: BoundedCache[tuple[str, str, str], tuple[int, float, Any]] = (
            BoundedCache(size)
        )

    def __len__(self) -> int:
        return len(self._cache)

    def get(self, key: tuple[str, str, str], counter: int, now: float) -> Any | None:
        entry = self._cache.get(key)
        if entry is None:
            return None
        seen_at, expires_at, verified = entry
        if seen_at != counter or now >= expires_at:
            self._cache.discard(key)
            return None
        return verified

    def put(
        self, key: tuple[str, str, str], counter: int, expires_at: float, verified: Any
    ) -> None:
        self._cache.put(key, (counter, expires_at, verified))


class Credentials:
    """Which stored hash a (client id, secret) pair last matched."""

    def __init__(self, size: int = 1_024) -> None:
        self._key = secrets.token_bytes(32)  # never leaves this process
        self._cache: BoundedCache[bytes, str] = BoundedCache(size)

    def __len__(self) -> int:
        return len(self._cache)

    def _fingerprint(self, client_id: str, secret: str) -> bytes:
        message = f"{client_id}\x00{secret}".encode("utf-8", "surrogatepass")
        return hmac.new(self._key, message, hashlib.sha256).digest()

    def matched_hash(self, client_id: str, secret: str) -> str | None:
        return self._cache.get(self._fingerprint(client_id, secret))

    def remember(self, client_id: str, secret: str, stored_hash: str) -> None:
        self._cache.put(self._fingerprint(client_id, secret), stored_hash)
