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
from sqlalchemy.engine import Engine

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

    def __init__(self, engine_of: Callable[[], Engine], idle_max: int = 8) -> None:
        self._engine_of = engine_of
        self._idle_max = idle_max
        self._idle: list[Any] = []
        self._inherited: list[Any] = []
        self._pid = os.getpid()
        self._compiled: dict[int, Any] = {}
        # Close them when the app's state goes, not at an unknown GC moment.
        weakref.finalize(self, _close_all, self._idle)

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
            dialect = self._engine_of().dialect
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

    def _checkout(self) -> Any:
        if self._pid != os.getpid():
            # Forked: the parent's connections are not ours to use, nor to
            # close; keep them referenced so the child never finalizes them.
            self._inherited.extend(self._idle)
            self._idle.clear()
            self._pid = os.getpid()
        try:
            return self._idle.pop()  # atomic: no lock needed
        except IndexError:
            pass
        fairy = self._engine_of().raw_connection()
        connection: Any = fairy.driver_connection
        fairy.detach()  # ours now, outside the pool
        if hasattr(connection, "autocommit"):
            connection.autocommit = True
        return connection

    def _checkin(self, connection: Any) -> None:
        if len(self._idle) < self._idle_max:
            self._idle.append(connection)
        else:
            _close_all([connection])


def _close_all(connections: list[Any]) -> None:
    while connections:
        connection = connections.pop()
        with contextlib.suppress(Exception):  # closing a broken connection
            connection.close()


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
