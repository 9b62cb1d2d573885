"""Admin page sessions (CONTRACT §9), without Flask.

A session is a random token in an ``HttpOnly`` cookie; the database keeps
only its SHA-256 (so a copy of the table, or an SQL log line, opens no
session), the signed-in client's id, a CSRF token for its forms, the
client's token generation at sign-in, and two times. It works with no
``SECRET_KEY`` from the host and in every worker, since nothing is signed
and everything is shared through the database.

A session ends at the first of:

- its lifetime, the signed-in client's access-token lifetime (as a token
  it would have been given);
- ``idle`` seconds without a page;
- the client's tokens being revoked (its generation moves), or the client
  being deleted;
- signing out.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING
from typing import cast

from sqlalchemy import Engine
from sqlalchemy import Table
from sqlalchemy import delete
from sqlalchemy import insert
from sqlalchemy import select
from sqlalchemy import update

from .models import AdminSession
from .transient import retrying

if TYPE_CHECKING:
    from .audit_trail import Staged
    from .seams import Clock

__all__ = ["IDLE_SECONDS", "AdminSessions", "SignedIn"]

#: A session with no page for this long is over.
IDLE_SECONDS = 15 * 60
#: ``last_seen`` is written at most this often per session.
_TOUCH_EVERY = 60

_SESSIONS = cast(Table, AdminSession.__table__)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True)
class SignedIn:
    """A live session: who, and the CSRF token its forms must carry."""

    client_id: str
    csrf: str
    generation: int
    expires_at: float

    def __repr__(self) -> str:  # never the CSRF token
        return f"<SignedIn {self.client_id}>"


class AdminSessions:
    def __init__(
        self, engine_of: Callable[[], Engine], clock: Clock, idle: int = IDLE_SECONDS
    ) -> None:
        self._engine_of = engine_of
        self._clock = clock
        self.idle = idle

    def __repr__(self) -> str:
        return f"<AdminSessions idle={self.idle}s>"

    def start(
        self,
        client_id: str,
        generation: int,
        lifetime: int,
        record: Staged | None = None,
    ) -> str:
        """A new session for ``client_id``; the cookie's token (shown here
        and never stored). ``record`` adds the sign-in's audit row to the
        same transaction."""
        token = secrets.token_urlsafe(32)
        now = self._clock()
        row = {
            "key": _digest(token),
            "client_id": client_id,
            "csrf": secrets.token_urlsafe(32),
            "generation": generation,
            "expires_at": now + lifetime,
            "last_seen": now,
        }

        def write() -> None:
            with self._engine_of().begin() as connection:
                # Ended sessions go as new ones come: the table stays small.
                connection.execute(
                    delete(_SESSIONS).where(
                        (_SESSIONS.c.expires_at <= now)
                        | (_SESSIONS.c.last_seen <= now - self.idle)
                    )
                )
                connection.execute(insert(_SESSIONS).values(row))
                if record is not None:
                    record(connection)

        retrying(write)
        return token

    def find(self, token: str | None) -> SignedIn | None:
        """The live session of a cookie's token, or None (an unknown,
        expired or idle one is ended)."""
        if not token or len(token) > 128:
            return None
        key = _digest(token)
        now = self._clock()
        with self._engine_of().connect() as connection:
            row = connection.execute(
                select(_SESSIONS).where(_SESSIONS.c.key == key)
            ).first()
        if row is None:
            return None
        if row.expires_at <= now or row.last_seen <= now - self.idle:
            self.end(token)
            return None
        if now - row.last_seen >= _TOUCH_EVERY:
            self._touch(key, now)
        return SignedIn(row.client_id, row.csrf, row.generation, row.expires_at)

    def end(self, token: str | None, record: Staged | None = None) -> None:
        """End the session of a cookie's token; ``record`` adds the
        sign-out's audit row to the same transaction when there was one."""
        if not token:
            return
        key = _digest(token)

        def write() -> None:
            with self._engine_of().begin() as connection:
                ended = connection.execute(
                    delete(_SESSIONS).where(_SESSIONS.c.key == key)
                )
                if record is not None and ended.rowcount:
                    record(connection)

        retrying(write)

    def end_all(self, client_id: str) -> None:
        """End every session of a client (deleted, or its tokens revoked)."""

        def write() -> None:
            with self._engine_of().begin() as connection:
                connection.execute(
                    delete(_SESSIONS).where(_SESSIONS.c.client_id == client_id)
                )

        retrying(write)

    def _touch(self, key: str, now: float) -> None:
        def write() -> None:
            with self._engine_of().begin() as connection:
                connection.execute(
                    update(_SESSIONS)
                    .where(_SESSIONS.c.key == key)
                    .values(last_seen=now)
                )

        retrying(write)
