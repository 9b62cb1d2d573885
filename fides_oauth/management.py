"""Client management use cases: the one home of every rule of a change.

The HTTP views, the CLI (and any page a host builds) are thin adapters over
:class:`Management`: they parse their input into the values of
:mod:`.clients` and call one method here. Each method

- looks the target up (the root client and unknown ids are not found),
- enforces scope containment against the acting client — nobody grants, or
  takes over, more than it holds itself,
- makes the change and commits it, raising the change counter in the same
  transaction when issued tokens are affected,
- and records the audit event, naming the actor, in the change's own
  transaction (:mod:`.audit_trail`), then reports it to the audit sink.

Nothing here imports Flask: the store, the audit sink and the clock are
passed in, so every rule is tested without an app (``tests/test_management.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy.orm import Session

from . import clients
from .audit_trail import AuditTrail
from .bodies import ClientChanges
from .bodies import ClientSpec
from .bodies import Rotation
from .client_metadata import resolve
from .hashing import SecretHasher
from .models import OAuthClient
from .models import utcnow
from .seams import AuditSink
from .seams import Clock
from .telemetry import Telemetry

__all__ = ["Actor", "ClientStore", "Management"]


@dataclass(frozen=True)
class Actor:
    """Who acts: a client with its scopes, or an operator (the CLI), who
    holds every scope."""

    client_id: str
    scopes: frozenset[str]
    operator: bool = False

    def __repr__(self) -> str:
        return f"<Actor {self.client_id}{' (operator)' if self.operator else ''}>"


class ClientStore(Protocol):
    """What the use cases need of storage (the app's state provides it)."""

    def session(self) -> Session: ...

    def commit(self, invalidates_tokens: bool = True) -> None: ...

    def stored_client(self, client_id: str) -> OAuthClient: ...

    def is_root(self, client_id: str) -> bool: ...

    def revoke_root_tokens(self) -> None: ...


class Management:
    """Create, read, update, set scopes, rotate, revoke tokens, delete."""

    def __init__(
        self,
        store: ClientStore,
        hasher: SecretHasher,
        *,
        root_id: str,
        max_rotation_grace: int,
        audit: AuditSink,
        trail: AuditTrail,
        clock: Clock,
        telemetry: Telemetry | None = None,
    ) -> None:
        self._store = store
        self._hasher = hasher
        self._root_id = root_id
        self.max_rotation_grace = max_rotation_grace
        self._audit = audit
        self._trail = trail
        self._clock = clock
        self._telemetry = telemetry or Telemetry()

    def __repr__(self) -> str:
        return "<Management>"

    # -- reads -------------------------------------------------------------

    def get(self, client_id: str) -> OAuthClient:
        return self._store.stored_client(client_id)

    def page(
        self, page: int, size: int, search: str | None = None
    ) -> tuple[list[OAuthClient], int]:
        """One page of clients, oldest first, and how many there are (that
        match ``search``: a part of the name, or the start of the id)."""
        return clients.list_clients(self._store.session(), page, size, search)

    # -- changes -----------------------------------------------------------

    def create(self, actor: Actor, spec: ClientSpec) -> tuple[OAuthClient, str | None]:
        """A new client and its secret, returned here and never again (None
        for a private_key_jwt client: it has no secret)."""
        _ensure_holds(actor, spec.scopes, "grant those scopes")
        client, secret = clients.create_client(
            self._store.session(),
            self._hasher,
            spec,
            created_by=actor.client_id,
            reserved_ids=[self._root_id],
        )
        self._commit(actor, client, "client_created", invalidates_tokens=False)
        return client, secret

    def update(
        self, actor: Actor, client_id: str, changes: ClientChanges
    ) -> OAuthClient:
        client = self._target(actor, client_id, "change this client")
        metadata = resolve(clients.current_metadata(client), changes.metadata)
        clients.apply_metadata(client, metadata)
        if changes.scopes is not None:
            _ensure_holds(actor, changes.scopes, "grant those scopes")
            client.scopes = changes.scopes
        if changes.changes_name:
            client.name = changes.name
        if changes.changes_description:
            client.description = changes.description
        client.updated_at = utcnow()  # always an UPDATE, so the version is checked
        self._commit(actor, client, "client_updated")
        return client

    def set_scopes(
        self, actor: Actor, client_id: str, scopes: list[str]
    ) -> OAuthClient:
        client = self._target(actor, client_id, "change this client")
        _ensure_holds(actor, scopes, "grant those scopes")
        client.scopes = scopes
        client.updated_at = utcnow()
        self._commit(actor, client, "client_scopes_changed")
        return client

    def rotate(
        self, actor: Actor, client_id: str, rotation: Rotation
    ) -> tuple[OAuthClient, str]:
        """A new secret, returned here and never again; with a grace period
        the old one keeps working until it ends."""
        client = self._target(actor, client_id, "rotate the secret of this client")
        secret = clients.rotate_secret(self._hasher, client, rotation, self._clock())
        events = ["client_secret_rotated"]
        if rotation.revoke_tokens:
            events.append("client_tokens_revoked")
        self._commit(actor, client, *events)
        return client, secret

    def revoke_tokens(self, actor: Actor, client_id: str) -> str:
        """Every token issued to the client so far stops working; returns
        the client's id. An operator may do it to the root client too (the
        root is not a stored client: through the API its id is not found)."""
        if actor.operator and self._store.is_root(client_id):
            event = "client_tokens_revoked"
            self._trail.stage(
                self._store.session(),
                event,
                actor=actor.client_id,
                target=self._root_id,
            )
            with self._telemetry.change([event], self._root_id):
                self._store.revoke_root_tokens()  # commits the staged record too
            self._audit(event, actor=actor.client_id, target=self._root_id)
            return self._root_id
        client = self._target(actor, client_id, "revoke the tokens of this client")
        clients.revoke_tokens(client)
        self._commit(actor, client, "client_tokens_revoked")
        return client.id

    def delete(
        self,
        actor: Actor,
        client_id: str,
        confirm: Callable[[OAuthClient], bool] = lambda client: True,
    ) -> bool:
        """Delete a client; its tokens stop working at once. ``confirm``
        sees the client first (the CLI asks); False leaves it in place."""
        client = self._target(actor, client_id, "delete this client")
        if not confirm(client):
            return False
        self._store.session().delete(client)
        self._commit(actor, client, "client_deleted")
        return True

    # -- helpers -----------------------------------------------------------

    def _target(self, actor: Actor, client_id: str, action: str) -> OAuthClient:
        """The stored client, if the actor holds every scope it holds."""
        client = self._store.stored_client(client_id)
        _ensure_holds(actor, client.scopes, action)
        return client

    def _commit(
        self,
        actor: Actor,
        client: OAuthClient,
        *events: str,
        invalidates_tokens: bool = True,
    ) -> None:
        """Commit the change with its audit records in one transaction,
        then report the events to the sink (the log and the signals)."""
        target, scopes = client.id, list(client.scopes)
        session = self._store.session()
        for event in events:
            self._trail.stage(
                session, event, actor=actor.client_id, target=target, scopes=scopes
            )
        with self._telemetry.change(events, target):
            self._store.commit(invalidates_tokens=invalidates_tokens)
        # Reading the id reloads the committed row: the client handed back
        # is loaded, usable once the session is gone (a deleted one keeps
        # what it had).
        target = client.id
        for event in events:
            self._audit(event, actor=actor.client_id, target=target, scopes=scopes)


def _ensure_holds(actor: Actor, wanted: Iterable[str], action: str) -> None:
    if not actor.operator:
        clients.ensure_holds(actor.scopes, wanted, action)
