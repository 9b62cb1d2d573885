"""Database errors that mean "try again", and a bounded retry around them.

Concurrent writers on one row can meet a deadlock (PostgreSQL aborts one of
them), a serialization failure, a lock wait that timed out, or SQLite's
"database is locked". None of these is an outage: the transaction was
rolled back whole and running it again succeeds. Only writes that are safe
to repeat from the start (each attempt is its own transaction) are retried.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.exc import DBAPIError

__all__ = ["TRANSIENT_SQLSTATES", "is_transient", "retrying"]

T = TypeVar("T")

#: deadlock_detected, serialization_failure, lock_not_available.
TRANSIENT_SQLSTATES = frozenset({"40P01", "40001", "55P03"})
_SQLITE_BUSY = ("database is locked", "database table is locked")
ATTEMPTS = 6


def is_transient(error: BaseException) -> bool:
    """Whether ``error`` aborted a transaction that may simply be re-run."""
    if not isinstance(error, DBAPIError) or error.connection_invalidated:
        return False
    original = error.orig
    sqlstate = getattr(original, "sqlstate", None) or getattr(original, "pgcode", None)
    if sqlstate in TRANSIENT_SQLSTATES:
        return True
    message = str(original).lower()
    return any(marker in message for marker in _SQLITE_BUSY)


def retrying(work: Callable[[], T], attempts: int = ATTEMPTS) -> T:
    """Run ``work`` (one whole transaction), again after a transient error.

    Back-off is short and jittered, so two transactions that deadlocked do
    not meet again at once; the last error propagates (and is then a real
    503).
    """
    for attempt in range(1, attempts + 1):
        try:
            return work()
        except DBAPIError as error:
            if attempt == attempts or not is_transient(error):
                raise
            time.sleep(random.uniform(0, 0.005 * 2**attempt))  # noqa: S311
    raise AssertionError("unreachable")  # pragma: no cover
