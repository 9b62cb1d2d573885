"""The fast reader: hot-path reads on connections of the library's own.

The change counter, and one client's row, each with one primary-key lookup:
statements are built with SQLAlchemy and compiled once per app for its
dialect, and run in autocommit on a few raw DBAPI connections kept outside
the host's pool — no session, no pool checkout, no transaction — so each
read sees the latest committed data. Used only where that is true (an
Engine-bound session on an SQLite file or PostgreSQL); anything else raises
:class:`ReadFailed` and the caller reads through the session.

On PostgreSQL through psycopg 3 every read — the counter on every
protected request in strict mode, the client row, the failure counters of
an attempt — is a statement prepared once per connection and run through
libpq itself (``pgconn.exec_prepared``), its values dumped and loaded by
psycopg's own adapters: in a tight loop on loopback, 11 to 23 µs of our CPU
per counter read against 56 µs through a cursor. (Under load, the kernel's
round trip costs the worker far more: ``python benchmarks/bench.py`` shows
the CPU per request.)
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import threading
import weakref
from collections.abc import Callable
from collections.abc import Mapping
from typing import Any

from sqlalchemy import CompoundSelect
from sqlalchemy import Select
from sqlalchemy import select
from sqlalchemy.engine import Connection
from sqlalchemy.engine import Engine
from sqlalchemy.pool import Pool
from sqlalchemy.pool import SingletonThreadPool
from sqlalchemy.pool import StaticPool

try:  # psycopg 3: statements run prepared through libpq
    from psycopg import pq
    from psycopg.adapt import PyFormat
    from psycopg.adapt import Transformer
except ImportError:  # pragma: no cover - another driver, or none
    pq = PyFormat = Transformer = None  # type: ignore[assignment,misc]

from .models import ChangeCounter

__all__ = ["FastReader", "ReadFailed"]

_COUNTER = select(ChangeCounter.counter).where(ChangeCounter.id == 1)


class ReadFailed(Exception):
    """The fast path could not read; take the session path instead."""


class FastReader:
    """Hot-path reads: the change counter, one client's row, the failure
    counters of an attempt.

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
        self._idle: list[_Connection] = []
        self._compiled: dict[int, Any] = {}
        #: On psycopg 3: statements run prepared, through libpq.
        self._libpq = False
        #: The name of each (statement, parameter types) prepared: one name,
        #: one statement, whichever thread asks first.
        self._names: dict[tuple[int, tuple[int, ...]], bytes] = {}
        self._names_lock = threading.Lock()
        self._own_pool: tuple[int, Pool] | None = None
        # Close them when the app's state goes, not at an unknown GC moment.
        weakref.finalize(self, _close_owned, self._idle)

    def __repr__(self) -> str:
        return "<FastReader>"

    def counter(self) -> int | None:
        try:
            rows = self._execute(_COUNTER, {})[0]
        except ReadFailed:
            return None
        return int(rows[0][0]) if rows else None

    def fetch_one(
        self, statement: Select[Any], params: dict[str, Any]
    ) -> Mapping[str, Any] | None:
        """The first row of ``statement`` by column name, its values
        processed as SQLAlchemy would; raises :class:`ReadFailed` on any
        failure."""
        rows = self.fetch_all(statement, params)
        return rows[0] if rows else None

    def fetch_all(
        self, statement: Select[Any] | CompoundSelect[Any], params: dict[str, Any]
    ) -> list[Mapping[str, Any]]:
        """Every row of ``statement``, as :meth:`fetch_one` gives one."""
        rows, processors, names = self._execute(statement, params)
        return [
            {
                name: process(value) if process else value
                for name, process, value in zip(names, processors, row, strict=True)
            }
            for row in rows
        ]

    def _execute(
        self, statement: Select[Any] | CompoundSelect[Any], params: dict[str, Any]
    ) -> tuple[list[tuple[Any, ...]], list[Any], list[str]]:
        if not self._fast_path():
            raise ReadFailed
        try:
            sql, arguments, processors, names = self._compile(statement, params)
            connection = self._checkout()
        except Exception as exc:
            raise ReadFailed from exc
        if self._libpq:
            rows = self._run_prepared(connection, id(statement), sql, arguments)
            return rows, processors, names
        try:
            cursor = connection.raw.cursor()
            cursor.execute(sql, arguments)
            rows = cursor.fetchall()
            cursor.close()
        except Exception as exc:
            self._discard(connection)
            raise ReadFailed from exc
        self._checkin(connection)
        return [tuple(row) for row in rows], processors, names

    def _run_prepared(
        self, connection: _Connection, key: int, sql: bytes, arguments: list[Any]
    ) -> list[tuple[Any, ...]]:
        """``sql`` through libpq: prepared once per connection and parameter
        types, then one Bind/Execute/Sync round trip; values dumped and
        loaded by psycopg's own adapters, as its cursor would."""
        try:
            transformer = Transformer(connection.raw)
            dumped = transformer.dump_sequence(
                arguments, [PyFormat.TEXT] * len(arguments)
            )
            types = tuple(transformer.types or ())
            name = self._name_of(key, types)
            pgconn = connection.raw.pgconn
            if name not in connection.prepared:  # only its holder touches it
                _check(pgconn.prepare(name, sql, param_types=types))
                connection.prepared.add(name)
            result = _check(
                pgconn.exec_prepared(name, dumped, param_formats=transformer.formats)
            )
            transformer.set_pgresult(result)
            rows = transformer.load_rows(0, result.ntuples, tuple)
            result.clear()
        except Exception as exc:
            self._discard(connection)
            raise ReadFailed from exc
        self._checkin(connection)
        return rows

    def _name_of(self, key: int, types: tuple[int, ...]) -> bytes:
        with self._names_lock:
            name = self._names.get((key, types))
            if name is None:
                name = f"fides_oauth_{len(self._names)}".encode()
                self._names[(key, types)] = name
            return name

    def _compile(
        self, statement: Select[Any] | CompoundSelect[Any], params: dict[str, Any]
    ) -> tuple[Any, Any, list[Any], list[str]]:
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
            names = [str(column.key) for column in statement.selected_columns]
            sql: Any = compiled.string
            if self._libpq:  # pyformat to libpq's $1, in order of appearance
                sql, order = _numbered(sql)
            cached = (sql, order, defaults, processors, names)
            self._compiled[id(statement)] = cached
        sql, order, defaults, processors, names = cached
        values = {**defaults, **params} if params else defaults
        arguments: Any
        if self._libpq:
            arguments = [values[name] for name in order or ()]
        elif order is not None:
            arguments = tuple(values[name] for name in order)
        else:
            arguments = values
        return sql, arguments, processors, names

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
                self._libpq = (
                    bind.dialect.name == "postgresql"
                    and bind.dialect.driver == "psycopg"
                    and not _green()
                )
        return self._usable

    def _checkout(self) -> _Connection:
        pid = os.getpid()
        while self._idle:
            try:
                connection = self._idle.pop()  # atomic: no lock needed
            except IndexError:
                break
            if connection.pid == pid:
                return connection
            # Inherited through a fork: the parent's, neither to use nor to
            # close (closing would end the parent's session); let it go.
        fairy = self._pool().connect()
        fresh: Any = fairy.driver_connection
        fairy.detach()  # ours now, outside any pool
        if hasattr(fresh, "autocommit"):
            fresh.autocommit = True
        return _Connection(fresh, pid)

    def _pool(self) -> Pool:
        """A pool of this process's own, made like the host's (same creator,
        same connect events), that new connections come from. Never the
        host's pool itself: after a fork (gunicorn ``--preload``) that may
        hand out a connection the parent opened, one server session shared
        by two processes."""
        pid = os.getpid()
        if self._own_pool is None or self._own_pool[0] != pid:
            assert self._engine is not None
            self._own_pool = (pid, self._engine.pool.recreate())
        return self._own_pool[1]

    def _checkin(self, connection: _Connection) -> None:
        if len(self._idle) < self._idle_max:
            self._idle.append(connection)
        else:
            self._discard(connection)

    def _discard(self, connection: _Connection) -> None:
        """Close a connection of ours (broken, or one too many)."""
        _close_all([connection.raw])


class _Connection:
    """A DBAPI connection of the reader's, the process that opened it, and
    the statements prepared on it (touched only by the thread holding it)."""

    __slots__ = ("pid", "prepared", "raw")

    def __init__(self, raw: Any, pid: int) -> None:
        self.raw = raw
        self.pid = pid
        self.prepared: set[bytes] = set()


def _green() -> bool:
    """Whether gevent or eventlet patched the socket module: libpq's own
    blocking calls would then stall every greenlet of the worker, so reads
    go through psycopg's cursor, which waits the patched way."""
    gevent = sys.modules.get("gevent.monkey")
    if gevent is not None and gevent.is_module_patched("socket"):
        return True
    eventlet = sys.modules.get("eventlet.patcher")
    return bool(eventlet is not None and eventlet.is_monkey_patched("socket"))


_PYFORMAT = re.compile(r"%\((\w+)\)s|%%")


def _numbered(sql: str) -> tuple[bytes, tuple[str, ...]]:
    """SQLAlchemy's pyformat SQL for psycopg as libpq takes it: ``$n``
    placeholders (a name used twice keeps its number) and ``%`` unescaped;
    and the parameter names in ``$n`` order."""
    order: list[str] = []

    def number(match: re.Match[str]) -> str:
        name = match.group(1)
        if name is None:
            return "%"
        if name not in order:
            order.append(name)
        return f"${order.index(name) + 1}"

    return _PYFORMAT.sub(number, sql).encode(), tuple(order)


def _check(result: Any) -> Any:
    """A libpq result, or the error it carries raised."""

    if result.status not in (pq.ExecStatus.TUPLES_OK, pq.ExecStatus.COMMAND_OK):
        message = result.error_message.decode("utf-8", "replace")
        result.clear()
        raise RuntimeError(message or "libpq: statement failed")
    return result


def _close_all(connections: list[Any]) -> None:
    while connections:
        connection = connections.pop()
        with contextlib.suppress(Exception):  # closing a broken connection
            connection.close()


def _close_owned(idle: list[_Connection]) -> None:
    """At the end, close this process's connections only."""
    pid = os.getpid()
    _close_all([connection.raw for connection in idle if connection.pid == pid])
    idle.clear()
