"""Where a push-mode process hears of changes: PostgreSQL ``LISTEN`` or
Redis ``SUBSCRIBE`` (the :class:`~.invalidation.ChangeFeed`s), and the
Redis ``PUBLISH`` that follows a committed change with the Redis store.
(PostgreSQL's ``NOTIFY`` is sent in the change's own transaction, by
:class:`~.store.Store`.)"""

from __future__ import annotations

import contextlib
import logging
import time
import weakref
from collections.abc import Callable
from typing import Any

from sqlalchemy.engine import Engine

from .invalidation import CHANNEL
from .invalidation import ChangeFeed

__all__ = ["PostgresFeed", "RedisFeed", "feed_factory"]

logger = logging.getLogger("fides_oauth")


class PostgresFeed:
    """``LISTEN`` on a psycopg 3 connection of its own, outside the pool."""

    def __init__(self, engine: Engine) -> None:
        if engine.dialect.name != "postgresql" or engine.dialect.driver != "psycopg":
            raise RuntimeError(
                "FIDES_OAUTH_INVALIDATION = 'push' needs change notices: "
                "PostgreSQL through psycopg 3 (postgresql+psycopg://...) or the "
                "Redis store (FIDES_OAUTH_STORAGE_URI = 'redis://...'). This "
                f"database is {engine.dialect.name}+{engine.dialect.driver}; "
                "use 'strict' here."
            )
        import psycopg

        if tuple(int(part) for part in psycopg.__version__.split(".")[:2]) < (3, 2):
            raise RuntimeError(
                "FIDES_OAUTH_INVALIDATION = 'push' on PostgreSQL needs psycopg "
                f"3.2 or later (this is {psycopg.__version__}): "
                "pip install 'psycopg[binary]>=3.2'."
            )
        self._engine = engine
        self._connection: Any = None

    def __repr__(self) -> str:
        return "<PostgresFeed>"

    def subscribe(self) -> None:
        # A new connection made like the host's, never one from its pool
        # (after a fork, that may be the parent's session).
        fairy = self._engine.pool.recreate().connect()
        connection: Any = fairy.driver_connection
        fairy.detach()  # ours, outside any pool, for as long as we listen
        connection.autocommit = True
        self._connection = connection
        connection.execute(f"LISTEN {CHANNEL}")

    def wait(self, timeout: float) -> bool:
        return any(
            True for _ in self._connection.notifies(timeout=timeout, stop_after=1)
        )

    def close(self) -> None:
        if self._connection is not None:
            with contextlib.suppress(Exception):  # closing a broken connection
                self._connection.close()
            self._connection = None


class RedisFeed:
    """``SUBSCRIBE`` on the Redis store's server, and ``PUBLISH`` there."""

    def __init__(self, url: str, channel: str = CHANNEL) -> None:
        import redis

        self._redis = redis.Redis.from_url(
            url, socket_timeout=5, socket_connect_timeout=5
        )
        self._channel = channel
        self._pubsub: Any = None
        # Not at exit: the listener may still be reading, and the process
        # is closing its sockets anyway.
        weakref.finalize(self, self._redis.connection_pool.disconnect).atexit = False

    def __repr__(self) -> str:
        return "<RedisFeed>"  # the URL may carry a password

    def subscribe(self) -> None:
        self._pubsub = self._redis.pubsub()
        self._pubsub.subscribe(self._channel)
        # Subscribed once Redis says so: wait for its confirmation.
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            message = self._pubsub.get_message(timeout=1.0)
            if message is not None and message["type"] == "subscribe":
                return
        raise RuntimeError("Redis did not confirm the subscription")

    def wait(self, timeout: float) -> bool:
        message = self._pubsub.get_message(timeout=timeout)
        # A "subscribe" after the first: redis-py reconnected and subscribed
        # again by itself, and notices sent in between are lost: re-read.
        return message is not None and message["type"] in ("message", "subscribe")

    def announce(self) -> None:
        """Tell every listener a change committed; a failure is logged, and
        left to the listeners' safety net."""
        try:
            self._redis.publish(self._channel, b"1")
        except Exception as exc:  # noqa: BLE001 - the change is committed
            logger.warning(
                "Could not announce a change on Redis (%s); push-mode workers "
                "see it within FIDES_OAUTH_MAX_STALENESS_MS.",
                type(exc).__name__,
            )

    def close(self) -> None:
        if self._pubsub is not None:
            with contextlib.suppress(Exception):  # closing a broken connection
                self._pubsub.close()
            self._pubsub = None


def feed_factory(storage_uri: str | None) -> Callable[[Engine], ChangeFeed]:
    """Where notices come from: the Redis store's server when there is one,
    else the database (PostgreSQL only; anything else raises, saying what to
    do)."""
    if storage_uri:
        url = storage_uri
        return lambda engine: RedisFeed(url)
    return PostgresFeed
