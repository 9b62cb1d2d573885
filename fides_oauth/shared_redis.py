"""The shared state in Redis (``FIDES_OAUTH_STORAGE_URI=redis://...``).

For deployments that keep ephemeral state out of their database, or share
it across several. Install with ``pip install 'fides-oauth[redis]'``.

- A failure counter is a hash ``<prefix>f:<key>`` holding the count ``n``
  and the window start ``s``; a passed window starts again at one, and the
  hash expires with its window (``PEXPIRE`` set when the window opens), so
  nothing needs pruning. Counting runs as one Lua script per attempt: atomic, in
  one round trip, for every key of the attempt.
- A known source is ``<prefix>s:<key>`` set to the time of its last
  success, expiring after the trust period (``SET ... EX``).
- Reads are one pipelined round trip.

All keys of one attempt are touched by one script, so a Redis Cluster
would need them in one hash slot; this store targets a single Redis server
(or a replicated primary). Connection failures raise
:class:`~.seams.SharedStateUnavailable` (answered 503, and logged once).
"""

from __future__ import annotations

import contextlib
import weakref
from collections.abc import Iterator
from collections.abc import Sequence

from .seams import SharedStateUnavailable

__all__ = ["RedisSharedState"]

# KEYS: counters. ARGV: now, window in ms (the TTL), window in seconds.
# A counter whose window has passed by the app's clock starts again at one,
# whether or not Redis has expired it yet.
_ADD = """
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[3])
local out = {}
for i, key in ipairs(KEYS) do
  local started = redis.call('HGET', key, 's')
  if (not started) or tonumber(started) <= now - window then
    redis.call('HSET', key, 'n', 1, 's', ARGV[1])
    redis.call('PEXPIRE', key, ARGV[2])
    out[i] = {1, ARGV[1]}
  else
    out[i] = {redis.call('HINCRBY', key, 'n', 1), started}
  end
end
return out
"""

_TAKE_BACK = """
for i, key in ipairs(KEYS) do
  local n = tonumber(redis.call('HGET', key, 'n') or '0')
  if n > 0 then redis.call('HINCRBY', key, 'n', -1) end
end
return 0
"""


class RedisSharedState:
    def __init__(self, url: str, prefix: str = "fides_oauth:") -> None:
        try:
            import redis
        except ImportError as exc:  # pragma: no cover - depends on extras
            raise RuntimeError(
                "FIDES_OAUTH_STORAGE_URI names Redis, but redis-py is not "
                "installed: pip install 'fides-oauth[redis]'."
            ) from exc
        self._errors: tuple[type[Exception], ...] = (redis.RedisError,)
        # redis-py's pool is per process and resets itself after a fork.
        self._redis = redis.Redis.from_url(
            url, socket_timeout=5, socket_connect_timeout=5
        )
        self._prefix = prefix
        # Close the connections when the app's state goes, not at an unknown
        # garbage-collection moment.
        weakref.finalize(self, self._redis.connection_pool.disconnect)
        self._add = self._redis.register_script(_ADD)
        self._take_back = self._redis.register_script(_TAKE_BACK)

    def __repr__(self) -> str:
        return "<RedisSharedState>"  # the URL may carry a password

    def read(
        self,
        keys: Sequence[str],
        source: str | None,
        now: float,
        window: int,
        trusted_seconds: int,
    ) -> tuple[dict[str, tuple[int, float]], float | None]:
        with self._unavailable():
            pipe = self._redis.pipeline(transaction=False)
            for key in keys:
                pipe.hmget(self._counter(key), "n", "s")
            if source is not None and trusted_seconds:
                pipe.get(self._source(source))
            answers = pipe.execute()
        counts: dict[str, tuple[int, float]] = {}
        for key, (failures, started) in zip(keys, answers, strict=False):
            if failures is not None and started is not None:
                counts[key] = (int(failures), float(started))
        known_since: float | None = None
        if source is not None and trusted_seconds and answers[-1] is not None:
            last = float(answers[-1])
            known_since = last if last > now - trusted_seconds else None
        return counts, known_since

    def add_failure(
        self, keys: Sequence[str], now: float, window: int
    ) -> list[tuple[int, float]]:
        with self._unavailable():
            rows = self._add(
                keys=[self._counter(key) for key in keys],
                args=[repr(now), max(1, int(window * 1000)), window],
            )
        return [(int(n), float(s)) for n, s in rows]

    def succeeded(
        self,
        keys: Sequence[str],
        source: str | None,
        now: float,
        trusted_seconds: int,
    ) -> None:
        with self._unavailable():
            pipe = self._redis.pipeline(transaction=False)
            if keys:
                self._take_back(
                    keys=[self._counter(key) for key in keys], args=[], client=pipe
                )
            if source is not None and trusted_seconds:
                pipe.set(self._source(source), repr(now), ex=trusted_seconds)
            pipe.execute()

    def claim_once(self, key: str, expires_at: float, now: float) -> bool:
        ttl_ms = max(1, int((expires_at - now) * 1000))
        with self._unavailable():
            return bool(
                self._redis.set(f"{self._prefix}j:{key}", "1", nx=True, px=ttl_ms)
            )

    def prune(self, now: float, window: int, trusted_seconds: int) -> int:
        return 0  # every entry expires by itself

    def close(self) -> None:
        """Close this process's connections (they reopen on next use)."""
        self._redis.connection_pool.disconnect()

    def flush(self) -> None:
        """Drop every entry of this store's prefix (tests, resets)."""
        with self._unavailable():
            for name in self._redis.scan_iter(match=self._prefix + "*", count=500):
                self._redis.delete(name)

    def _counter(self, key: str) -> str:
        return f"{self._prefix}f:{key}"

    def _source(self, key: str) -> str:
        return f"{self._prefix}s:{key}"

    @contextlib.contextmanager
    def _unavailable(self) -> Iterator[None]:
        """Redis's errors, as the library's 503."""
        try:
            yield
        except self._errors as error:
            first = str(error).splitlines()[0] if str(error) else ""
            raise SharedStateUnavailable(
                f"Redis failed: {type(error).__name__}: {first}"
            ) from error
