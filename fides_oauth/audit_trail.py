"""The persisted audit trail: the events an operator acts on, kept in the
database for the admin page's audit view. No Flask here.

What is kept, and why only that: every audit event is logged and signalled
(:mod:`.audit`), but a row per token grant or per failed authentication
would put a write on the token endpoint's hot path, and let anyone with no
credentials grow a table. So the trail keeps :data:`PERSISTED`: management
changes, admin sign-ins and sign-outs, signing-key rotations and token
revocations. A host that wants every event stored subscribes to the
signals (:mod:`.signals`).

Nothing lost: a management change stages its row in the change's own
transaction (:meth:`AuditTrail.stage`), so the change and its record commit
together or not at all. Events with no transaction of their own (a sign-in,
a key rotation) are written in one short transaction
(:meth:`AuditTrail.record`) before the answer, and a failure there is the
request's 503, like any other storage failure.

Rows older than the retention (``FIDES_OAUTH_AUDIT_RETENTION_DAYS``) go
with ``flask fides-oauth prune``.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from datetime import timezone
from typing import TYPE_CHECKING
from typing import Any
from typing import cast

from sqlalchemy import Engine
from sqlalchemy import Table
from sqlalchemy import delete
from sqlalchemy import insert
from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy.orm import Session

from .models import AuditRecord
from .transient import retrying

if TYPE_CHECKING:
    from .seams import AuditSink
    from .seams import Clock

__all__ = ["PERSISTED", "AuditEntry", "AuditTrail", "RecordingSink"]

#: The events kept in the database; the rest are logged and signalled only.
PERSISTED = frozenset(
    {
        "client_created",
        "client_updated",
        "client_scopes_changed",
        "client_secret_rotated",
        "client_tokens_revoked",
        "client_deleted",
        "token_revoked",
        "admin_signed_in",
        "admin_signed_out",
        "signing_key_rotated",
    }
)

#: Longest id or event name kept (the columns' sizes).
_ID_MAX = 255

_EVENTS = cast(Table, AuditRecord.__table__)


@dataclass(frozen=True)
class AuditEntry:
    """One kept event, as the audit view shows it."""

    id: int
    at: float
    event: str
    actor: str | None
    target: str | None
    scopes: tuple[str, ...]
    outcome: str

    @property
    def when(self) -> datetime:
        """``at`` as an aware UTC datetime."""
        return datetime.fromtimestamp(self.at, timezone.utc)


def _clip(value: str | None) -> str | None:
    return None if value is None else value[:_ID_MAX]


class AuditTrail:
    def __init__(
        self,
        engine_of: Callable[[], Engine],
        clock: Clock,
        retention: int,
    ) -> None:
        """``retention``: seconds a row is kept by :meth:`prune` (0: for ever)."""
        self._engine_of = engine_of
        self._clock = clock
        self.retention = retention

    def __repr__(self) -> str:
        return f"<AuditTrail retention={self.retention}s>"

    def _row(
        self,
        event: str,
        actor: str | None,
        target: str | None,
        scopes: Iterable[str],
        outcome: str,
    ) -> dict[str, Any]:
        return {
            "at": self._clock(),
            "event": event,
            "actor": _clip(actor),
            "target": _clip(target),
            "scopes": " ".join(sorted(scopes)),
            "outcome": outcome,
        }

    def stage(
        self,
        session: Session,
        event: str,
        *,
        actor: str | None,
        target: str | None = None,
        scopes: Iterable[str] = (),
        outcome: str = "success",
    ) -> None:
        """Add the event's row to ``session``'s transaction, not committed:
        it commits with the change it records."""
        if event in PERSISTED:
            session.execute(
                insert(_EVENTS).values(
                    **self._row(event, actor, target, scopes, outcome)
                )
            )

    def record(
        self,
        event: str,
        *,
        actor: str | None,
        target: str | None = None,
        scopes: Iterable[str] = (),
        outcome: str = "success",
    ) -> None:
        """Keep the event now, in a transaction of its own."""
        if event not in PERSISTED:
            return
        row = self._row(event, actor, target, scopes, outcome)

        def write() -> None:
            with self._engine_of().begin() as connection:
                connection.execute(insert(_EVENTS).values(**row))

        retrying(write)

    def recent(
        self,
        *,
        client_id: str | None = None,
        before: int | None = None,
        limit: int = 50,
    ) -> list[AuditEntry]:
        """Newest first; with ``client_id``, the events it did or underwent;
        ``before``: only rows older than that id (the next page)."""
        query = select(_EVENTS).order_by(_EVENTS.c.id.desc()).limit(limit)
        if client_id is not None:
            query = query.where(
                or_(_EVENTS.c.actor == client_id, _EVENTS.c.target == client_id)
            )
        if before is not None:
            query = query.where(_EVENTS.c.id < before)
        with self._engine_of().connect() as connection:
            rows = connection.execute(query).all()
        return [
            AuditEntry(
                id=row.id,
                at=row.at,
                event=row.event,
                actor=row.actor,
                target=row.target,
                scopes=tuple(row.scopes.split()),
                outcome=row.outcome,
            )
            for row in rows
        ]

    def prune(self, now: float) -> int:
        """Drop rows older than the retention; how many."""
        if not self.retention:
            return 0
        with self._engine_of().begin() as connection:
            result = connection.execute(
                delete(_EVENTS).where(_EVENTS.c.at < now - self.retention)
            )
        return int(result.rowcount or 0)


class RecordingSink:
    """An :class:`~.seams.AuditSink` that keeps persisted events in the trail
    and hands every event to the host's sink (the log and the signals by
    default). Events are kept first: an answer never reports a change whose
    record failed to commit."""

    def __init__(self, sink: AuditSink, trail: AuditTrail) -> None:
        self.sink = sink
        self.trail = trail

    def __repr__(self) -> str:
        return f"<RecordingSink {self.sink!r}>"

    def __call__(
        self,
        event: str,
        *,
        actor: str | None,
        target: str | None = None,
        scopes: Iterable[str] = (),
        outcome: str = "success",
    ) -> Any:
        scopes = tuple(scopes)
        self.trail.record(
            event, actor=actor, target=target, scopes=scopes, outcome=outcome
        )
        return self.sink(
            event, actor=actor, target=target, scopes=scopes, outcome=outcome
        )
