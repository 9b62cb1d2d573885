"""Storage failures: answered 503, and explained once in the log.

A 503 tells the client to come back later; the operator needs to know why.
Each incident — a failure of one kind with one message — is logged once at
ERROR on the ``fides_oauth`` logger (then again at most once a minute while
it lasts): the exception's class and the first line of the database's own
message, never the statement's parameters (they may hold a client id or a
hash). Missing or outdated tables say how to fix them.
"""

from __future__ import annotations

import logging
import threading
import time

from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import SQLAlchemyError

from .errors import TemporarilyUnavailableError
from .errors import safe_text
from .sealing import SealError
from .seams import SharedStateUnavailable

__all__ = ["STORAGE_ERRORS", "OutageLog"]

#: What a request cannot go on without: the database, the keys sealed in it,
#: the shared state. Each is answered 503 wherever it happens (a library
#: route, a protected host route).
STORAGE_ERRORS = (SQLAlchemyError, SealError, SharedStateUnavailable)

logger = logging.getLogger("fides_oauth")

#: The schema is missing or older than the code: undefined_table,
#: undefined_column (PostgreSQL); SQLite says it in words.
_SCHEMA_SQLSTATES = frozenset({"42P01", "42703"})
_SCHEMA_WORDS = ("no such table", "no such column", "doesn't exist", "unknown column")
_FIX_SCHEMA = (
    "The fides_oauth tables are missing or out of date: run "
    "`flask fides-oauth db upgrade` (or call fides_oauth.create_tables())."
)


def describe(error: BaseException) -> tuple[str, str]:
    """The class and first message line of a failure; no parameters."""
    original: BaseException = error
    if isinstance(error, DBAPIError) and error.orig is not None:
        original = error.orig
    name = f"{type(original).__module__}.{type(original).__qualname__}"
    lines = str(original).strip().splitlines()
    return name, safe_text(lines[0] if lines else "", 300)


def is_schema_problem(error: BaseException) -> bool:
    original = error.orig if isinstance(error, DBAPIError) else error
    sqlstate = getattr(original, "sqlstate", None) or getattr(original, "pgcode", None)
    if sqlstate in _SCHEMA_SQLSTATES:
        return True
    message = str(original).lower()
    return any(words in message for words in _SCHEMA_WORDS)


class OutageLog:
    """Turns a storage failure into the 503 to answer, logging its cause
    once per incident."""

    def __init__(self, repeat_after: float = 60.0) -> None:
        self._repeat_after = repeat_after
        self._lock = threading.Lock()
        self._last: tuple[str, str] | None = None
        self._logged_at = 0.0

    def __repr__(self) -> str:
        return "<OutageLog>"

    def report(self, error: BaseException) -> TemporarilyUnavailableError:
        incident = describe(error)
        now = time.monotonic()
        with self._lock:
            fresh = (
                incident != self._last or now - self._logged_at >= self._repeat_after
            )
            if fresh:
                self._last, self._logged_at = incident, now
        if fresh:
            hint = " " + _FIX_SCHEMA if is_schema_problem(error) else ""
            logger.error(
                "Storage failed, answering 503: %s: %s.%s",
                incident[0],
                incident[1],
                hint,
            )
        return TemporarilyUnavailableError()
