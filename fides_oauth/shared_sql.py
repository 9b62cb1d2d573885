"""The shared state in the host's SQL database (the default).

Failure counters live in ``fides_oauth_auth_failures`` and known sources in
``fides_oauth_known_sources``. Each failure is an atomic upsert (``INSERT
... ON CONFLICT DO UPDATE ... RETURNING`` on PostgreSQL and SQLite); every
transaction locks rows in one order (sorted keys, failures before sources),
so concurrent requests cannot deadlock one another, and a deadlock or lock
wait that still happens is retried (:mod:`.transient`), not reported as an
outage. Bulk deletes run in transactions of their own.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Sequence
from typing import Any
from typing import cast

from sqlalchemy import Table
from sqlalchemy import bindparam
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
from sqlalchemy.exc import IntegrityError

from .fast_reader import FastReader
from .fast_reader import ReadFailed
from .models import AuthFailure
from .models import KnownSource
from .models import SeenAssertion
from .transient import retrying

__all__ = ["SqlSharedState"]

_FAILURES = cast(Table, AuthFailure.__table__)
_SOURCES = cast(Table, KnownSource.__table__)
_SEEN = cast(Table, SeenAssertion.__table__)


#: An attempt's read — its three counters and its source's mark (as a row
#: whose failure count is -1) — in one statement of fixed shape, so the
#: fast reader compiles it once; other reads build theirs.
_ATTEMPT_KEYS = 3
_ATTEMPT_READ = (
    select(_FAILURES.c.key, _FAILURES.c.failures, _FAILURES.c.window_start)
    .where(
        _FAILURES.c.key.in_([bindparam(f"k{i}") for i in range(_ATTEMPT_KEYS)]),
        _FAILURES.c.window_start > bindparam("opened_after"),
    )
    .union_all(
        select(_SOURCES.c.key, literal(-1), _SOURCES.c.last_success).where(
            _SOURCES.c.key == bindparam("source"),
            _SOURCES.c.last_success > bindparam("trusted_after"),
        )
    )
)


class SqlSharedState:
    """``reader``, when given, serves the attempt's read on its own
    autocommit connections (one round trip, no pool checkout); where it
    cannot, the read goes through the engine."""

    def __init__(
        self, engine_of: Callable[[], Engine], reader: FastReader | None = None
    ) -> None:
        self._engine_of = engine_of
        self._reader = reader

    def __repr__(self) -> str:
        return "<SqlSharedState>"

    def read(
        self,
        keys: Sequence[str],
        source: str | None,
        now: float,
        window: int,
        trusted_seconds: int,
    ) -> tuple[dict[str, tuple[int, float]], float | None]:
        rows = self._read_attempt(keys, source, now, window, trusted_seconds)
        if rows is None:
            rows = self._read_any(keys, source, now, window, trusted_seconds)
        counts: dict[str, tuple[int, float]] = {}
        known_since: float | None = None
        for key, failures, started in rows:
            if failures == -1:
                known_since = float(started)
            else:
                counts[key] = (int(failures), float(started))
        return counts, known_since

    def _read_attempt(
        self,
        keys: Sequence[str],
        source: str | None,
        now: float,
        window: int,
        trusted_seconds: int,
    ) -> list[tuple[Any, ...]] | None:
        """The fixed-shape read on the fast reader; None where it does not
        apply (more keys, no reader) or cannot run."""
        if self._reader is None or not 0 < len(keys) <= _ATTEMPT_KEYS:
            return None
        padded = list(keys) + [keys[-1]] * (_ATTEMPT_KEYS - len(keys))
        params: dict[str, Any] = {f"k{i}": key for i, key in enumerate(padded)}
        params["opened_after"] = now - window
        params["source"] = source if source is not None and trusted_seconds else ""
        params["trusted_after"] = now - trusted_seconds if trusted_seconds else now
        try:
            found = self._reader.fetch_all(_ATTEMPT_READ, params)
        except ReadFailed:
            return None
        return [(row["key"], row["failures"], row["window_start"]) for row in found]

    def _read_any(
        self,
        keys: Sequence[str],
        source: str | None,
        now: float,
        window: int,
        trusted_seconds: int,
    ) -> list[tuple[Any, ...]]:
        # One round trip: the counters, and the source's mark as a row
        # whose failure count is -1.
        statement = select(
            _FAILURES.c.key, _FAILURES.c.failures, _FAILURES.c.window_start
        ).where(
            _FAILURES.c.key.in_(list(keys)), _FAILURES.c.window_start > now - window
        )
        if source is not None and trusted_seconds:
            statement = statement.union_all(  # type: ignore[assignment]
                select(_SOURCES.c.key, literal(-1), _SOURCES.c.last_success).where(
                    _SOURCES.c.key == source,
                    _SOURCES.c.last_success > now - trusted_seconds,
                )
            )
        with self._engine_of().connect() as conn:
            return [tuple(row) for row in conn.execute(statement).all()]

    def add_failure(
        self, keys: Sequence[str], now: float, window: int
    ) -> list[tuple[int, float]]:
        ordered = sorted(keys)

        def count() -> dict[str, tuple[int, float]]:
            with self._engine_of().begin() as conn:
                return {key: self._count(conn, key, now, window) for key in ordered}

        counted = retrying(count)
        return [counted[key] for key in keys]

    def succeeded(
        self,
        keys: Sequence[str],
        source: str | None,
        now: float,
        trusted_seconds: int,
    ) -> None:
        ordered = sorted(keys)  # the order add_failure locks them in

        def write() -> None:
            with self._engine_of().begin() as conn:
                for key in ordered:
                    conn.execute(
                        update(_FAILURES)
                        .where(_FAILURES.c.key == key, _FAILURES.c.failures > 0)
                        .values(failures=_FAILURES.c.failures - 1)
                    )
                if source is not None:
                    _upsert(conn, _SOURCES, {"key": source}, {"last_success": now})

        retrying(write)

    def claim_once(self, key: str, expires_at: float, now: float) -> bool:
        # One statement: insert, or take over an entry that has expired;
        # a live entry (a replay) makes it return no row. On PostgreSQL it
        # runs in autocommit: one round trip instead of three (BEGIN,
        # INSERT, COMMIT), on every DPoP request and every assertion.
        def claim() -> bool:
            engine = self._engine_of()
            dialect = engine.dialect.name
            if dialect in ("postgresql", "sqlite") and engine.dialect.insert_returning:
                module = postgresql if dialect == "postgresql" else sqlite
                stmt = module.insert(_SEEN).values(key=key, expires_at=expires_at)
                stmt = stmt.on_conflict_do_update(
                    index_elements=[_SEEN.c.key],
                    set_={"expires_at": expires_at},
                    where=_SEEN.c.expires_at <= now,
                ).returning(_SEEN.c.key)
                if dialect == "postgresql":
                    autocommit = engine.execution_options(isolation_level="AUTOCOMMIT")
                    with autocommit.connect() as conn:
                        return conn.execute(stmt).first() is not None
                with engine.begin() as conn:
                    return conn.execute(stmt).first() is not None
            with engine.begin() as conn:
                conn.execute(
                    delete(_SEEN).where(_SEEN.c.key == key, _SEEN.c.expires_at <= now)
                )
                try:
                    with conn.begin_nested():
                        conn.execute(
                            insert(_SEEN).values(key=key, expires_at=expires_at)
                        )
                except IntegrityError:
                    return False
                return True

        return retrying(claim)

    def prune(self, now: float, window: int, trusted_seconds: int) -> int:
        def prune() -> int:
            with self._engine_of().begin() as conn:
                result = conn.execute(
                    delete(_FAILURES).where(_FAILURES.c.window_start <= now - window)
                )
                conn.execute(
                    delete(_SOURCES).where(
                        _SOURCES.c.last_success <= now - trusted_seconds
                    )
                )
                conn.execute(delete(_SEEN).where(_SEEN.c.expires_at <= now))
                return int(result.rowcount or 0)

        return retrying(prune)

    @staticmethod
    def _count(
        conn: Connection, key: str, now: float, window: int
    ) -> tuple[int, float]:
        expired = _FAILURES.c.window_start <= now - window
        row = _upsert(
            conn,
            _FAILURES,
            {"key": key},
            {
                "failures": case((expired, 1), else_=_FAILURES.c.failures + 1),
                "window_start": case((expired, now), else_=_FAILURES.c.window_start),
            },
            inserted={"window_start": now, "failures": 1},
            returning=(_FAILURES.c.failures, _FAILURES.c.window_start),
        )
        return int(row[0]), float(row[1])


def _upsert(
    conn: Connection,
    table: Table,
    key: dict[str, Any],
    changes: dict[str, Any],
    inserted: dict[str, Any] | None = None,
    returning: tuple[Any, ...] = (),
) -> Any:
    """Insert a row, or change it if its key exists: atomic where the
    database has ``ON CONFLICT`` (PostgreSQL, SQLite), else an update then
    an insert. Returns the ``returning`` columns of the row."""
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
