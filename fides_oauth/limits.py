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

Every attempt that will run bcrypt is counted first, in one transaction of
atomic upserts, and a success takes its count back in one more; both lock
rows in one order (sorted keys), so concurrent requests cannot deadlock one
another, and a lock conflict that still happens is retried, never reported
as an outage. The counts live in the database, so every worker of a
deployment shares them.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from typing import cast

from sqlalchemy import Table
from sqlalchemy import case
from sqlalchemy import delete
from sqlalchemy import insert
from sqlalchemy import literal
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.engine import Engine

from .models import AuthFailure
from .models import KnownSource
from .seams import Clock
from .seams import system_clock
from .transient import retrying

__all__ = ["Attempt", "FailureLimiter", "address_key", "client_key", "source_key"]

_TABLE = cast(Table, AuthFailure.__table__)
_SOURCES = cast(Table, KnownSource.__table__)
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
        engine_of: Callable[[], Engine],
        trusted_source_seconds: int = 30 * 86400,
        clock: Clock = system_clock,
    ) -> None:
        self._clock = clock
        self.limit = limit
        self.window = window
        self.trusted_source_seconds = trusted_source_seconds
        self._engine_of = engine_of
        self._records = 0

    def __repr__(self) -> str:
        return f"<FailureLimiter limit={self.limit} window={self.window}s>"

    def assess(
        self, client_id: str, remote_addr: str | None, now: float | None = None
    ) -> Attempt:
        """Which counters judge this attempt, and whether they refuse it:
        one read of the failure rows and the source mark together."""
        now = self._clock() if now is None else now
        source = source_key(client_id, remote_addr)
        candidates = (source, client_key(client_id), address_key(remote_addr))
        statement = select(
            _TABLE.c.key, _TABLE.c.failures, _TABLE.c.window_start
        ).where(_TABLE.c.key.in_(candidates))
        if self.trusted_source_seconds:
            statement = statement.union_all(  # type: ignore[assignment]
                select(_SOURCES.c.key, literal(-1), _SOURCES.c.last_success).where(
                    _SOURCES.c.key == source,
                    _SOURCES.c.last_success > now - self.trusted_source_seconds,
                )
            )
        with self._engine_of().connect() as conn:
            rows = conn.execute(statement).all()
        counts: dict[str, tuple[int, float]] = {}
        known_since: float | None = None
        for key, failures, started in rows:
            if failures == -1:
                known_since = float(started)
            else:
                counts[key] = (int(failures), float(started))
        keys = (source,) if known_since is not None else tuple(sorted(candidates[1:]))
        return Attempt(keys, source, known_since, self._wait(counts, keys, now))

    def retry_after(self, keys: Iterable[str], now: float | None = None) -> int | None:
        """Seconds to wait if any of ``keys`` is over the limit, else None."""
        now = self._clock() if now is None else now
        keys = list(keys)
        with self._engine_of().connect() as conn:
            rows = conn.execute(
                select(_TABLE.c.key, _TABLE.c.failures, _TABLE.c.window_start).where(
                    _TABLE.c.key.in_(keys)
                )
            ).all()
        counts = {key: (int(f), float(s)) for key, f, s in rows}
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

        def count() -> int | None:
            over: int | None = None
            with self._engine_of().begin() as conn:
                for key in ordered:
                    failures, opened = self._count(conn, key, now)
                    if failures > self.limit:
                        wait = max(1, math.ceil(opened + self.window - now))
                        over = max(over or 0, wait)
            return over

        over = retrying(count)
        self._records += 1
        if self._records % _PRUNE_EVERY == 0:
            # Its own transaction: a bulk delete locks rows in no set order.
            retrying(lambda: self._prune_in_transaction(now))
        return over

    def succeeded(
        self, attempt: Attempt, counted: bool, now: float | None = None
    ) -> None:
        """An attempt authenticated: take back its count (when
        :meth:`record` counted it) and remember its source — one
        transaction, and none at all when there is nothing to write."""
        now = self._clock() if now is None else now
        refresh = self.trusted_source_seconds and (
            attempt.known_since is None
            or attempt.known_since < now - self.trusted_source_seconds / 2
        )
        if not counted and not refresh:
            return

        def write() -> None:
            with self._engine_of().begin() as conn:
                if counted:
                    for key in attempt.keys:  # sorted, as record() locks them
                        conn.execute(
                            update(_TABLE)
                            .where(_TABLE.c.key == key, _TABLE.c.failures > 0)
                            .values(failures=_TABLE.c.failures - 1)
                        )
                if refresh:
                    self._upsert(
                        conn, _SOURCES, {"key": attempt.source}, {"last_success": now}
                    )

        retrying(write)

    def prune(self, conn: Connection, now: float) -> int:
        """Drop the rows of windows that have passed, and sources not seen
        succeeding for the trust period."""
        result = conn.execute(
            delete(_TABLE).where(_TABLE.c.window_start <= now - self.window)
        )
        conn.execute(
            delete(_SOURCES).where(
                _SOURCES.c.last_success <= now - self.trusted_source_seconds
            )
        )
        return int(result.rowcount or 0)

    def _prune_in_transaction(self, now: float) -> int:
        with self._engine_of().begin() as conn:
            return self.prune(conn, now)

    def _count(self, conn: Connection, key: str, now: float) -> tuple[int, float]:
        """Add one failure to ``key``; its count and window start after."""
        expired = _TABLE.c.window_start <= now - self.window
        row = self._upsert(
            conn,
            _TABLE,
            {"key": key},
            {
                "failures": case((expired, 1), else_=_TABLE.c.failures + 1),
                "window_start": case((expired, now), else_=_TABLE.c.window_start),
            },
            inserted={"window_start": now, "failures": 1},
            returning=(_TABLE.c.failures, _TABLE.c.window_start),
        )
        assert row is not None
        return int(row[0]), float(row[1])

    @staticmethod
    def _upsert(
        conn: Connection,
        table: Table,
        key: dict[str, Any],
        changes: dict[str, Any],
        inserted: dict[str, Any] | None = None,
        returning: tuple[Any, ...] = (),
    ) -> Any:
        """Insert a row, or change it if its key exists: atomic where the
        database has ``ON CONFLICT`` (PostgreSQL, SQLite), else an update
        then an insert. Returns the ``returning`` columns of the row."""
        values = key | (changes if inserted is None else inserted)
        dialect = conn.dialect.name
        if dialect in ("postgresql", "sqlite") and conn.dialect.insert_returning:
            module = postgresql if dialect == "postgresql" else sqlite
            stmt = module.insert(table).values(values)
            stmt = stmt.on_conflict_do_update(index_elements=list(key), set_=changes)
            if returning:
                return conn.execute(stmt.returning(*returning)).one()
            conn.execute(stmt)
            return None
        # Other databases: not atomic across workers.
        where = [table.c[name] == value for name, value in key.items()]
        if not conn.execute(update(table).where(*where).values(changes)).rowcount:
            conn.execute(insert(table).values(values))
        if returning:
            return conn.execute(select(*returning).where(*where)).one()
        return None
