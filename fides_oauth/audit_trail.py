"""The persisted audit trail: the events an operator acts on, kept in the
database for the admin page's audit view. No Flask here.

What is kept, and why only that: every audit event is logged and signalled
(:mod:`.audit`), but a row per token grant or per failed authentication
would put a write on the token endpoint's hot path, and let anyone with no
credentials grow a table. So the trail keeps :data:`PERSISTED`: management
changes, admin sign-ins and sign-outs, signing-key rotations and token
revocations. A host that wants every event stored subscribes to the
signals (:mod:`.signals`).

Nothing lost, nothing invented: a row is only ever *staged* in the
transaction of the change it records (:meth:`AuditTrail.stage`), so the
change and its record commit together or not at all. A change whose record
cannot be written is rolled back (the request's 503), and a change that
did not happen (a lost race, a token revoked twice) leaves no row. Each
writer takes the row as a hook on its own transaction: the management use
cases on the host's session, :meth:`.keys.KeyStore.rotate` and
:class:`.admin_sessions.AdminSessions` on theirs, the revocation endpoint
on the host's session.

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

from sqlalchemy import Connection
from sqlalchemy import Engine
from sqlalchemy import Table
from sqlalchemy import delete
from sqlalchemy import insert
from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy.orm import Session

from .models import AuditRecord

if TYPE_CHECKING:
    from .seams import Clock

__all__ = ["ID_MAX", "PERSISTED", "AuditEntry", "AuditTrail", "Staged"]

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

_EVENTS = cast(Table, AuditRecord.__table__)

#: Longest actor or target id kept: the columns' size.
ID_MAX: int = _EVENTS.c.actor.type.length  # type: ignore[attr-defined]

#: A row to add to a transaction: called with its session or connection.
Staged = Callable[[Session | Connection], None]


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
    return None if value is None else value[:ID_MAX]


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
        executor: Session | Connection,
        event: str,
        *,
        actor: str | None,
        target: str | None = None,
        scopes: Iterable[str] = (),
        outcome: str = "success",
    ) -> None:
        """Add the event's row to ``executor``'s transaction, not committed:
        it commits with the change it records."""
        if event in PERSISTED:
            executor.execute(
                insert(_EVENTS).values(
                    **self._row(event, actor, target, scopes, outcome)
                )
            )

    def staged(
        self,
        event: str,
        *,
        actor: str | None,
        target: str | None = None,
        scopes: Iterable[str] = (),
    ) -> Staged:
        """:meth:`stage` as a hook, for a writer that owns its transaction."""
        scopes = tuple(scopes)

        def stage(executor: Session | Connection) -> None:
            self.stage(executor, event, actor=actor, target=target, scopes=scopes)

        return stage

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
