"""When each client was last used, kept coarse so it costs almost nothing.

A successful token request marks its client as used. Writing that on every
request would put a write on the hottest path, so the mark is coarse: each
process writes a client's mark at most once per ``interval`` (a bounded
per-process map remembers when it last did), and the write itself is a
conditional ``UPDATE`` that changes the row only when the stored mark is
older than ``interval`` — so across every worker a client's row changes at
most about once a minute, whatever the traffic.

The mark is bookkeeping, not a change: it touches neither ``updated_at``,
nor the row's ``version`` (management changes in flight do not conflict
with it), nor the change counter (verified tokens stay cached). A failure
to write it never fails the request that used the client: the cause is
logged once per incident, as storage outages are.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from datetime import timezone
from typing import TYPE_CHECKING
from typing import cast

from sqlalchemy import Engine
from sqlalchemy import Table
from sqlalchemy import or_
from sqlalchemy import update

from .cache import BoundedCache
from .models import OAuthClient
from .outages import STORAGE_ERRORS
from .transient import retrying

if TYPE_CHECKING:
    from .outages import OutageLog
    from .seams import Clock

__all__ = ["USAGE_INTERVAL", "UsageRecorder"]

#: Seconds between two marks of one client.
USAGE_INTERVAL = 60

_CLIENTS = cast(Table, OAuthClient.__table__)


class UsageRecorder:
    def __init__(
        self,
        engine_of: Callable[[], Engine],
        clock: Clock,
        outages: OutageLog,
        *,
        interval: int = USAGE_INTERVAL,
        size: int = 10_000,
    ) -> None:
        self._engine_of = engine_of
        self._clock = clock
        self._outages = outages
        self.interval = interval
        self._written: BoundedCache[str, float] = BoundedCache(size)

    def __repr__(self) -> str:
        return f"<UsageRecorder interval={self.interval}s>"

    def used(self, client_id: str) -> None:
        """Mark ``client_id`` as used now (coarsely; see the module)."""
        now = self._clock()
        last = self._written.get(client_id)
        if last is not None and now - last < self.interval:
            return
        self._written.put(client_id, now)
        stamp = datetime.fromtimestamp(now, timezone.utc)
        stale = datetime.fromtimestamp(now - self.interval, timezone.utc)
        statement = (
            update(_CLIENTS)
            .where(
                _CLIENTS.c.id == client_id,
                or_(_CLIENTS.c.last_used_at.is_(None), _CLIENTS.c.last_used_at < stale),
            )
            # Named, so the column's onupdate does not move updated_at.
            .values(last_used_at=stamp, updated_at=_CLIENTS.c.updated_at)
        )

        def write() -> None:
            with self._engine_of().begin() as connection:
                connection.execute(statement)

        try:
            retrying(write)
        except STORAGE_ERRORS as exc:
            self._written.discard(client_id)  # try again on the next use
            self._outages.report(exc)
