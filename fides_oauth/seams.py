"""The seams a host (or a test) may replace, as small Protocols.

Passed to :class:`~fides_oauth.FidesOAuth` as keyword arguments, in the
manner of Authlib's ``register_*`` hooks and django-oauth-toolkit's
pluggable classes:

- ``clock``: the time, in epoch seconds; tests pass a fake one instead of
  patching ``time.time``;
- ``audit``: where audit events go (the default logs them on
  ``fides_oauth.audit`` and sends the blinker signals);
- ``shared_state``: the ephemeral state every worker shares — failure
  counters, known sources, and the single-use ``jti`` values of client assertions
  and DPoP proofs (:class:`SharedState`).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from collections.abc import Sequence
from typing import Any
from typing import Protocol

__all__ = [
    "AuditSink",
    "Clock",
    "SharedState",
    "SharedStateUnavailable",
    "system_clock",
]


class Clock(Protocol):
    def __call__(self) -> float: ...


def system_clock() -> float:
    """``time.time()``, looked up on every call."""
    return time.time()


class AuditSink(Protocol):
    """Receives every audit event; :func:`fides_oauth.audit.emit` by default."""

    def __call__(
        self,
        event: str,
        *,
        actor: str | None,
        target: str | None = None,
        scopes: Iterable[str] = (),
        outcome: str = "success",
    ) -> Any: ...


class SharedStateUnavailable(RuntimeError):
    """The shared-state store could not be reached; answered 503."""


class SharedState(Protocol):
    """The ephemeral state every worker and host shares (CONTRACT §10):
    failed-authentication counters in fixed windows, the known sources of
    the failure limits, and the replay set of client assertions and DPoP
    proofs. Two
    implementations ship: SQL, on the host's
    database (:class:`fides_oauth.shared_sql.SqlSharedState`, the default),
    and Redis (:class:`fides_oauth.shared_redis.RedisSharedState`,
    ``FIDES_OAUTH_STORAGE_URI=redis://...``). Every operation is atomic
    across processes (on SQL databases other than PostgreSQL and SQLite the
    counters fall back to an update-then-insert that is not); failures
    raise :class:`SharedStateUnavailable` or the database's own errors
    (both answered 503).
    """

    def read(
        self,
        keys: Sequence[str],
        source: str | None,
        now: float,
        window: int,
        trusted_seconds: int,
    ) -> tuple[dict[str, tuple[int, float]], float | None]:
        """The counters of ``keys`` whose window is still open, as
        ``{key: (failures, window start)}``, and when ``source`` last
        succeeded within ``trusted_seconds`` (None: not known)."""
        ...

    def add_failure(
        self, keys: Sequence[str], now: float, window: int
    ) -> list[tuple[int, float]]:
        """Add one to each counter (a passed window starts again at one);
        each counter's failures and window start after, in ``keys`` order."""
        ...

    def succeeded(
        self,
        keys: Sequence[str],
        source: str | None,
        now: float,
        trusted_seconds: int,
    ) -> None:
        """Take one back from each of ``keys`` (never below zero) and, when
        ``source`` is given, record that it succeeded at ``now``."""
        ...

    def claim_once(self, key: str, expires_at: float, now: float) -> bool:
        """Record ``key`` until ``expires_at``; True the first time, False
        while it is recorded (a replay). One atomic operation."""
        ...

    def prune(self, now: float, window: int, trusted_seconds: int) -> int:
        """Drop what has expired; how many counters went."""
        ...
