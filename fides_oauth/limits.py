"""Failed-authentication limits at the token endpoint.

Brute force stays bounded without handing anyone a lockout weapon:

- An attempt from a *known source* — a client id and remote address pair
  that has authenticated successfully before, within
  ``FIDES_OAUTH_TRUSTED_SOURCE_DAYS`` — is judged by that pair's own count
  only. Failures against the same id from other addresses, or by other ids
  from the same address, do not refuse it.
- Any other attempt is judged, and counted, per client id and per address:
  after ``limit`` failures within ``window`` seconds for either, further
  attempts are refused (429) before any bcrypt work, until the window that
  began with the first failure has passed.

Every attempt that will run bcrypt is counted first, atomically, and a
success takes its count back. The counts live in the shared state
(:class:`~.seams.SharedState`: the SQL database by default, or Redis), so
every worker and host of a deployment shares them. This module is the
policy — which counters, what limit — and no storage.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable
from dataclasses import dataclass

from .seams import Clock
from .seams import SharedState
from .seams import system_clock

__all__ = ["Attempt", "FailureLimiter", "address_key", "client_key", "source_key"]

_PRUNE_EVERY = 64


def _key(kind: str, value: str) -> str:
    return hashlib.sha256(
        f"{kind}:{value}".encode("utf-8", "surrogatepass")
    ).hexdigest()


def client_key(client_id: str) -> str:
    return _key("client", client_id)


def address_key(remote_addr: str | None) -> str:
    return _key("addr", remote_addr or "unknown")


def source_key(client_id: str, remote_addr: str | None) -> str:
    return _key("source", f"{client_id}\x00{remote_addr or 'unknown'}")


@dataclass(frozen=True)
class Attempt:
    """How one authentication attempt is judged and counted."""

    #: The counters that judge it, sorted (the one lock order).
    keys: tuple[str, ...]
    source: str
    #: When its source last authenticated successfully (None: unknown).
    known_since: float | None
    #: Seconds to wait when it is over the limit, else None.
    retry_after: int | None


class FailureLimiter:
    """Counts failures per key in fixed windows that open with a failure."""

    def __init__(
        self,
        limit: int,
        window: int,
        shared: SharedState,
        trusted_source_seconds: int = 30 * 86400,
        clock: Clock = system_clock,
    ) -> None:
        self.limit = limit
        self.window = window
        self.trusted_source_seconds = trusted_source_seconds
        self.shared = shared
        self._clock = clock
        self._records = 0

    def __repr__(self) -> str:
        return f"<FailureLimiter limit={self.limit} window={self.window}s>"

    def assess(
        self, client_id: str, remote_addr: str | None, now: float | None = None
    ) -> Attempt:
        """Which counters judge this attempt, and whether they refuse it:
        one read of the counters and the source mark together."""
        now = self._clock() if now is None else now
        source = source_key(client_id, remote_addr)
        candidates = (source, client_key(client_id), address_key(remote_addr))
        counts, known_since = self.shared.read(
            candidates, source, now, self.window, self.trusted_source_seconds
        )
        keys = (source,) if known_since is not None else tuple(sorted(candidates[1:]))
        return Attempt(keys, source, known_since, self._wait(counts, keys, now))

    def retry_after(self, keys: Iterable[str], now: float | None = None) -> int | None:
        """Seconds to wait if any of ``keys`` is over the limit, else None."""
        now = self._clock() if now is None else now
        keys = list(keys)
        counts, _ = self.shared.read(keys, None, now, self.window, 0)
        return self._wait(counts, keys, now)

    def _wait(
        self, counts: dict[str, tuple[int, float]], keys: Iterable[str], now: float
    ) -> int | None:
        opened = [
            counts[key][1]
            for key in keys
            if key in counts
            and counts[key][0] >= self.limit
            and counts[key][1] > now - self.window
        ]
        if not opened:
            return None
        return max(1, math.ceil(max(opened) + self.window - now))

    def record(self, keys: Iterable[str], now: float | None = None) -> int | None:
        """Count one attempt against every key, atomically, *before* it is
        checked: attempts in flight at once all count, so they cannot slip
        past the limit together. Returns the seconds to wait when this
        attempt is over the limit, else None."""
        now = self._clock() if now is None else now
        ordered = sorted(set(keys))
        over: int | None = None
        for failures, opened in self.shared.add_failure(ordered, now, self.window):
            if failures > self.limit:
                wait = max(1, math.ceil(opened + self.window - now))
                over = max(over or 0, wait)
        self._records += 1
        if self._records % _PRUNE_EVERY == 0:
            self.prune(now)
        return over

    def succeeded(
        self, attempt: Attempt, counted: bool, now: float | None = None
    ) -> None:
        """An attempt authenticated: take back its count (when
        :meth:`record` counted it) and remember its source — one write, and
        none at all when there is nothing to write."""
        now = self._clock() if now is None else now
        refresh = bool(self.trusted_source_seconds) and (
            attempt.known_since is None
            or attempt.known_since < now - self.trusted_source_seconds / 2
        )
        if not counted and not refresh:
            return
        self.shared.succeeded(
            attempt.keys if counted else (),
            attempt.source if refresh else None,
            now,
            self.trusted_source_seconds,
        )

    def prune(self, now: float | None = None) -> int:
        """Drop counters whose window has passed, and sources not seen
        succeeding for the trust period; how many counters went."""
        now = self._clock() if now is None else now
        return self.shared.prune(now, self.window, self.trusted_source_seconds)
