"""When a process's remembered token verifications stop counting.

Every change that can invalidate an issued token (a scope cut, a deletion,
a rotation, a revocation) raises the change counter in its own transaction
(:meth:`.store.Store.commit`), and each process remembers the tokens it
verified tagged with the counter it read first (:mod:`.cache`). What differs
is how a process learns the counter's value:

- **strict** (the default, :class:`StrictCounter`): it reads it on every
  protected request. A change committed before a request arrives is
  honoured by that request, on every worker and host; each check costs one
  primary-key read — a round trip on PostgreSQL.
- **push** (opt-in, :class:`PushedCounter`): it keeps the value in memory. A
  listener thread per process hears every change — PostgreSQL ``LISTEN``
  (the counter's transaction sends ``NOTIFY``), or Redis ``SUBSCRIBE`` with
  the Redis store (the change's commit is followed by ``PUBLISH``) — and
  re-reads the counter at once; it also re-reads it every half of
  ``FIDES_OAUTH_MAX_STALENESS_MS``, as a safety net against a notice lost
  on the way. A request uses the value in memory only while the listener is
  subscribed and the value was read less than ``MAX_STALENESS`` ago;
  otherwise it reads the counter itself, as in strict mode.

The worst case in push mode, which the docs state and a multi-worker test
checks: after a change commits, a token already verified by a worker can
still pass there for at most ``MAX_STALENESS`` — when every notice is lost;
otherwise for the few milliseconds a notice takes. A value is trusted for
``MAX_STALENESS`` counted from when its read was *sent*, so a read that
raced the change cannot stretch the bound.
"""

from __future__ import annotations

import logging
import math
import os
import sys
import threading
import time
import weakref
from collections.abc import Callable
from typing import Protocol

from sqlalchemy.engine import Engine

__all__ = [
    "CHANNEL",
    "ChangeFeed",
    "ChangeWatch",
    "PushedCounter",
    "StrictCounter",
]

logger = logging.getLogger("fides_oauth")

#: The channel change notices travel on (PostgreSQL and Redis alike).
CHANNEL = "fides_oauth_changes"
#: The longest a broken listener waits before subscribing again.
_BACKOFF_MAX = 5.0


class ChangeWatch(Protocol):
    """The change counter as the token cache sees it."""

    def current(self) -> int | None:
        """The counter value to tag and judge cached verifications with;
        None when it cannot be read (nothing is then cached)."""

    def check(self, engine: Engine) -> None:
        """Raise at start-up, saying what to do, if this cannot work here."""


class ChangeFeed(Protocol):
    """Where one process hears that a change committed."""

    def subscribe(self) -> None:
        """Start listening; raises when it cannot. Notices of changes that
        commit after this returns are not missed."""

    def wait(self, timeout: float) -> bool:
        """Whether a notice arrived within ``timeout`` seconds; raises when
        the subscription broke."""

    def close(self) -> None:
        """Stop listening and let go of the connection."""


class StrictCounter:
    """Read on every request: every change honoured on the next request."""

    def __init__(self, read: Callable[[], int | None]) -> None:
        self.current = read

    def __repr__(self) -> str:
        return "<StrictCounter>"

    def check(self, engine: Engine) -> None:
        return None


class PushedCounter:
    """The counter kept in memory, refreshed by notices and a safety net.

    ``read`` reads the counter (None on failure); ``feed_of`` makes this
    process's :class:`ChangeFeed` from the app's engine. The listener starts
    with the first request of each process (after a fork, again), so a
    preloading master never listens.
    """

    def __init__(
        self,
        read: Callable[[], int | None],
        feed_of: Callable[[Engine], ChangeFeed],
        engine_of: Callable[[], Engine],
        max_staleness: float,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._read = read
        self._feed_of = feed_of
        self._engine_of = engine_of
        self.max_staleness = max_staleness
        self._monotonic = monotonic
        #: (value, when its read was sent), replaced whole: never torn.
        self._state: tuple[int | None, float] = (None, -math.inf)
        self._lock = threading.Lock()
        #: Whether this process's listener is subscribed right now.
        self.listening = False
        self._pid: int | None = None
        self._stop = threading.Event()
        weakref.finalize(self, self._stop.set)
        # A lock held by this process's listener at a fork would stay held
        # in the child for ever: the child gets a new one.
        if hasattr(os, "register_at_fork"):
            os.register_at_fork(after_in_child=_after_fork(weakref.ref(self)))

    def __repr__(self) -> str:
        return f"<PushedCounter max_staleness={self.max_staleness}s>"

    def check(self, engine: Engine) -> None:
        self._feed_of(engine)

    def current(self) -> int | None:
        if self._pid != os.getpid():
            self._start()
        value, read_at = self._state
        if (
            self.listening
            and value is not None
            and self._monotonic() - read_at < self.max_staleness
        ):
            return value
        return self.refresh()

    def refresh(self) -> int | None:
        """Read the counter now, and keep it if no later read was kept."""
        sent = self._monotonic()
        value = self._read()
        if value is not None:
            with self._lock:
                if sent > self._state[1]:
                    self._state = (value, sent)
        return value

    def forget(self) -> None:
        """This process committed a change: its next request reads the
        counter (a process sees its own changes at once), and no read sent
        before now is kept."""
        with self._lock:
            self._state = (None, self._monotonic())

    def due_in(self) -> float:
        """Seconds until the safety net's next read (half the bound)."""
        return self._state[1] + self.max_staleness / 2 - self._monotonic()

    def stop(self) -> None:
        """End this process's listener (tests, shutdown)."""
        self._stop.set()

    def _start(self) -> None:
        """This process's listener, once; if it cannot start, the next
        request tries again (and requests read the counter meanwhile)."""
        with self._lock:
            if self._pid == os.getpid():
                return
            self.listening = False
            try:
                # Here, in the app's context: the engine, and a first read
                # that settles how the reader reads (the listener has none).
                engine = self._engine_of()
                self._read()
                thread = threading.Thread(
                    target=_listen,
                    args=(weakref.ref(self), self._feed_of, engine, self._stop),
                    name="fides_oauth-changes",
                    daemon=True,
                )
                thread.start()
            except Exception as exc:  # noqa: BLE001 - a request must not fail
                logger.warning(
                    "Could not start listening for changes (%s); protected "
                    "requests read the change counter themselves meanwhile.",
                    type(exc).__name__,
                )
                return
            self._pid = os.getpid()


def _after_fork(ref: weakref.ref[PushedCounter]) -> Callable[[], None]:
    def reset() -> None:
        watch = ref()
        if watch is not None:
            watch._lock = threading.Lock()
            watch.listening = False

    return reset


def _listen(
    ref: weakref.ref[PushedCounter],
    feed_of: Callable[[Engine], ChangeFeed],
    engine: Engine,
    stop: threading.Event,
) -> None:
    """The listener thread: subscribe, read, then re-read on every notice
    and every half bound; on any failure, mark the process not listening
    (its requests then read the counter themselves) and subscribe again.

    It holds its counter only weakly, between waits, so an app that goes
    away takes its listener with it."""
    backoff = 0.1
    reported = False
    while not stop.is_set():
        feed: ChangeFeed | None = None
        try:
            feed = feed_of(engine)
            feed.subscribe()
            if not _refresh(ref, listening=True):
                return
            backoff, reported = 0.1, False
            while not stop.is_set():
                watch = ref()
                if watch is None:
                    return
                # At most a second: an app that went away (or a stop) ends
                # its listener soon, whatever the bound.
                timeout = min(max(watch.due_in(), 0.0), watch.max_staleness / 2, 1.0)
                del watch
                noticed = feed.wait(timeout)
                watch = ref()
                if watch is None:
                    return
                if (noticed or watch.due_in() <= 0) and watch.refresh() is None:
                    # The database is unreachable: back off, requests read.
                    raise RuntimeError("the change counter could not be read")
                del watch
        except Exception as exc:  # noqa: BLE001 - any failure: resubscribe
            if not (reported or stop.is_set() or sys.is_finalizing()):
                logger.warning(
                    "Change notices interrupted (%s: %s); protected requests "
                    "read the change counter themselves until they resume.",
                    type(exc).__name__,
                    str(exc).splitlines()[0] if str(exc) else "",
                )
                reported = True
        finally:
            watch = ref()
            if watch is not None:
                watch.listening = False
            del watch
            if feed is not None:
                feed.close()
        stop.wait(backoff)
        backoff = min(backoff * 2, _BACKOFF_MAX)


def _refresh(ref: weakref.ref[PushedCounter], *, listening: bool) -> bool:
    """Read the counter after subscribing, then say the listener is live;
    False when the counter's owner is gone."""
    watch = ref()
    if watch is None:
        return False
    if watch.refresh() is None:
        raise RuntimeError("the change counter could not be read")
    watch.listening = listening
    return True
