"""Per-process caches on the hot paths, kept correct by the change counter.

- :class:`StoreReader` reads the store's change counter, and a client's
  row, with one primary-key lookup on a connection of its own.
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

import contextlib
import hashlib
import hmac
import os
import secrets
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable
from typing import Any
from typing import Generic
from typing import TypeVar

from sqlalchemy import Select
from sqlalchemy import select
from sqlalchemy.engine import Connection
from sqlalchemy.engine import Engine
from sqlalchemy.pool import SingletonThreadPool
from sqlalchemy.pool import StaticPool

from .models import ChangeCounter

__all__ = [
    "BoundedCache",
    "Credentials",
    "ReadFailed",
    "StoreReader",
    "VerifiedTokens",
]

K = TypeVar("K")
V = TypeVar("V")

_COUNTER = select(ChangeCounter.counter).where(ChangeCounter.id == 1)


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


class ReadFailed(Exception):
    """The fast path could not read; take the session path instead."""


class StoreReader:
    """Hot-path reads: the change counter and one client's row.

    Statements are built with SQLAlchemy and compiled once per app for its
    dialect; they run on a few connections of the reader's own, in
    autocommit, so each read sees the latest committed data and costs one
    primary-key lookup — no session, no pool checkout, no transaction.
    ``counter()`` is None when the counter cannot be read (no such row, the
    database is down): callers then take the slow path through the session,
    which reports a failure properly.
    """

    def __init__(
        self, bind_of: Callable[[], Engine | Connection], idle_max: int = 8
    ) -> None:
        self._bind_of = bind_of
        self._engine: Engine | None = None
        self._usable: bool | None = None
        self._idle_max = idle_max
        self._idle: list[tuple[int, Any]] = []  # (owning process, connection)
        self._compiled: dict[int, Any] = {}
        # Close them when the app's state goes, not at an unknown GC moment.
        weakref.finalize(self, _close_owned, self._idle)

    def __repr__(self) -> str:
        return "<StoreReader>"

    def counter(self) -> int | None:
        try:
            row = self.fetch_one(_COUNTER, {}, processed=False)
        except ReadFailed:
            return None
        return int(row[0]) if row else None

    def fetch_one(
        self, statement: Select[Any], params: dict[str, Any], processed: bool = True
    ) -> tuple[Any, ...] | None:
        """The first row of ``statement``, its columns processed as
        SQLAlchemy would; raises :class:`ReadFailed` on any failure."""
        if not self._fast_path():
            raise ReadFailed
        try:
            sql, arguments, processors = self._compile(statement, params)
            connection = self._checkout()
        except Exception as exc:
            raise ReadFailed from exc
        try:
            cursor = connection.cursor()
            cursor.execute(sql, arguments)
            row = cursor.fetchone()
            cursor.close()
        except Exception as exc:
            _close_all([connection])
            raise ReadFailed from exc
        self._checkin(connection)
        if row is None or not processed:
            return row  # type: ignore[no-any-return]
        return tuple(
            process(value) if process else value
            for process, value in zip(processors, row, strict=True)
        )

    def _compile(
        self, statement: Select[Any], params: dict[str, Any]
    ) -> tuple[str, Any, list[Any]]:
        cached = self._compiled.get(id(statement))
        if cached is None:
            assert self._engine is not None
            dialect = self._engine.dialect
            compiled = statement.compile(dialect=dialect)
            processors = [
                column.type.result_processor(dialect, None)
                for column in statement.selected_columns
            ]
            order = tuple(compiled.positiontup or ()) if dialect.positional else None
            # Values SQLAlchemy bound itself (literals in the statement).
            defaults = {
                name: bind.effective_value
                for name, bind in compiled.binds.items()
                if not bind.required
            }
            cached = (compiled.string, order, defaults, processors)
            self._compiled[id(statement)] = cached
        sql, order, defaults, processors = cached
        values = {**defaults, **params} if params else defaults
        arguments = (
            tuple(values[name] for name in order) if order is not None else values
        )
        return sql, arguments, processors

    def _fast_path(self) -> bool:
        """Decided once: the reader's own connections must see what the
        session commits. Not so when the session is bound to a Connection
        (an outer transaction), nor with in-memory SQLite (each connection
        its own database), nor on databases where autocommit reads are not
        set up here (only SQLite and PostgreSQL are)."""
        if self._usable is None:
            bind = self._bind_of()
            self._usable = (
                isinstance(bind, Engine)
                and bind.dialect.name in ("sqlite", "postgresql")
                and not isinstance(bind.pool, (StaticPool, SingletonThreadPool))
            )
            if self._usable:
                self._engine = bind  # type: ignore[assignment]
        return self._usable

    def _checkout(self) -> Any:
        pid = os.getpid()
        while self._idle:
            try:
                owner, connection = self._idle.pop()  # atomic: no lock needed
            except IndexError:
                break
            if owner == pid:
                return connection
            # Inherited through a fork: the parent's, neither to use nor to
            # close (closing would end the parent's session); let it go.
        assert self._engine is not None
        fairy = self._engine.raw_connection()
        fresh: Any = fairy.driver_connection
        fairy.detach()  # ours now, outside the pool
        if hasattr(fresh, "autocommit"):
            fresh.autocommit = True
        return fresh

    def _checkin(self, connection: Any) -> None:
        if len(self._idle) < self._idle_max:
            self._idle.append((os.getpid(), connection))
        else:
            _close_all([connection])


def _close_all(connections: list[Any]) -> None:
    while connections:
        connection = connections.pop()
        with contextlib.suppress(Exception):  # closing a broken connection
            connection.close()


def _close_owned(idle: list[tuple[int, Any]]) -> None:
    """At the end, close this process's connections only."""
    pid = os.getpid()
    _close_all([connection for owner, connection in idle if owner == pid])
    idle.clear()


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
