"""The seams a host (or a test) may replace, as small Protocols.

Passed to :class:`~fides_oauth.FidesOAuth` as keyword arguments, in the
manner of Authlib's ``register_*`` hooks and django-oauth-toolkit's
pluggable classes:

- ``clock``: the time, in epoch seconds; tests pass a fake one instead of
  patching ``time.time``;
- ``audit``: where audit events go (the default logs them on
  ``fides_oauth.audit`` and sends the blinker signals);
- ``shared_state``: the ephemeral state every worker shares — failure
  counters today (see :mod:`fides_oauth.shared`).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any
from typing import Protocol

__all__ = ["AuditSink", "Clock", "system_clock"]


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
