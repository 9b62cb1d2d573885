"""Failed-authentication limits at the token endpoint.

After ``limit`` failed client authentications within ``window`` seconds for
one client id, or from one remote address, further attempts are refused
(429) before any bcrypt work, until the window that began with the first
failure has passed. The counts live in the database, so every worker of a
deployment shares them; each failure is one atomic upsert.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable
from collections.abc import Iterable
from typing import cast

from sqlalchemy import Table
from sqlalchemy import case
from sqlalchemy import delete
from sqlalchemy import func
from sqlalchemy import insert
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.engine import Engine

from .models import AuthFailure

__all__ = ["FailureLimiter", "address_key", "client_key"]

_TABLE = cast(Table, AuthFailure.__table__)
_PRUNE_EVERY = 64


def _key(kind: str, value: str) -> str:
    return hashlib.sha256(
        f"{kind}:{value}".encode("utf-8", "surrogatepass")
    ).hexdigest()


def client_key(client_id: str) -> str:
    return _key("client", client_id)


def address_key(remote_addr: str | None) -> str:
    return _key("addr", remote_addr or "unknown")


class FailureLimiter:
    """Counts failures per key in fixed windows that open with a failure."""

    def __init__(
        self, limit: int, window: int, engine_of: Callable[[], Engine]
    ) -> None:
        self.limit = limit
        self.window = window
        self._engine_of = engine_of
        self._records = 0

    def __repr__(self) -> str:
        return f"<FailureLimiter limit={self.limit} window={self.window}s>"

    def retry_after(self, keys: Iterable[str], now: float | None = None) -> int | None:
        """Seconds to wait if any key is over the limit, else None."""
        now = time.time() if now is None else now
        with self._engine_of().connect() as conn:
            opened: float | None = conn.scalar(
                select(func.max(_TABLE.c.window_start)).where(
                    _TABLE.c.key.in_(list(keys)),
                    _TABLE.c.failures >= self.limit,
                    _TABLE.c.window_start > now - self.window,
                )
            )
        if opened is None:
            return None
        return max(1, math.ceil(opened + self.window - now))

    def record(self, keys: Iterable[str], now: float | None = None) -> int | None:
        """Count one attempt against every key, atomically, *before* it is
        checked: attempts in flight at once all count, so they cannot slip
        past the limit together. Returns the seconds to wait when this
        attempt is over the limit, else None."""
        now = time.time() if now is None else now
        over: int | None = None
        with self._engine_of().begin() as conn:
            for key in keys:
                failures, opened = self._count(conn, key, now)
                if failures > self.limit:
                    wait = max(1, math.ceil(opened + self.window - now))
                    over = max(over or 0, wait)
            self._records += 1
            if self._records % _PRUNE_EVERY == 0:
                self.prune(conn, now)
        return over

    def forgive(self, keys: Iterable[str]) -> None:
        """Take back an attempt counted by :meth:`record` that succeeded."""
        with self._engine_of().begin() as conn:
            conn.execute(
                update(_TABLE)
                .where(_TABLE.c.key.in_(list(keys)), _TABLE.c.failures > 0)
                .values(failures=_TABLE.c.failures - 1)
            )

    def prune(self, conn: Connection, now: float) -> int:
        """Drop the rows of windows that have passed."""
        result = conn.execute(
            delete(_TABLE).where(_TABLE.c.window_start <= now - self.window)
        )
        return int(result.rowcount or 0)

    def _count(self, conn: Connection, key: str, now: float) -> tuple[int, float]:
        """Add one failure to ``key``; its count and window start after."""
        expired = _TABLE.c.window_start <= now - self.window
        dialect = conn.dialect.name
        if dialect in ("postgresql", "sqlite") and conn.dialect.insert_returning:
            module = postgresql if dialect == "postgresql" else sqlite
            stmt = module.insert(_TABLE).values(key=key, window_start=now, failures=1)
            row = conn.execute(
                stmt.on_conflict_do_update(
                    index_elements=[_TABLE.c.key],
                    set_={
                        "failures": case((expired, 1), else_=_TABLE.c.failures + 1),
                        "window_start": case(
                            (expired, now), else_=_TABLE.c.window_start
                        ),
                    },
                ).returning(_TABLE.c.failures, _TABLE.c.window_start)
            ).one()
            return int(row.failures), float(row.window_start)
        # Other databases: an update, else an insert (not atomic across workers).
        updated = conn.execute(
            update(_TABLE)
            .where(_TABLE.c.key == key)
            .values(
                failures=case((expired, 1), else_=_TABLE.c.failures + 1),
                window_start=case((expired, now), else_=_TABLE.c.window_start),
            )
        )
        if not updated.rowcount:
            conn.execute(insert(_TABLE).values(key=key, window_start=now, failures=1))
        row = conn.execute(
            select(_TABLE.c.failures, _TABLE.c.window_start).where(_TABLE.c.key == key)
        ).one()
        return int(row.failures), float(row.window_start)
