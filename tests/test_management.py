"""The management use cases, with no Flask app: every rule in one place.

Each change checks containment against the actor, commits (raising the
change counter when issued tokens are affected) and reports its audit
event; a refused change writes nothing and reports nothing.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from fides_oauth.bodies import ClientChanges
from fides_oauth.bodies import ClientSpec
from fides_oauth.bodies import Rotation
from fides_oauth.errors import ForbiddenScopesError
from fides_oauth.errors import NotFoundError
from fides_oauth.management import Actor
from fides_oauth.models import ChangeCounter
from fides_oauth.models import OAuthClient
from tests.conftest import ROOT_ID

WEAK = Actor("weak-actor", frozenset({"client:create", "client:update", "rule:read"}))
STRONG = Actor("strong-actor", frozenset({"client:create", "policy:read", "rule:read"}))
OPERATOR = Actor("cli", frozenset(), operator=True)


def _rows(session: Any) -> list[tuple[Any, ...]]:
    rows = session.execute(select(OAuthClient.__table__).order_by("id")).all()
    session.remove()
    return [tuple(row) for row in rows]


def _counter(session: Any) -> int:
    value = session.scalar(select(ChangeCounter.counter))
    session.remove()
    return int(value)


def test_create_stores_a_hash_and_reports_the_actor(core_kit: Any) -> None:
    core, audit, session = core_kit
    client, secret = core.management.create(STRONG, ClientSpec(["policy:read"]))
    stored = session.get(OAuthClient, client.id)
    assert core.hasher.verify(secret, stored.secret_hash)
    assert secret not in repr(_rows(session))
    assert audit.events == [
        {
            "event": "client_created",
            "actor": "strong-actor",
            "target": client.id,
            "scopes": ["policy:read"],
        }
    ]


def test_nobody_grants_what_it_does_not_hold(core_kit: Any) -> None:
    core, audit, session = core_kit
    with pytest.raises(ForbiddenScopesError):
        core.management.create(WEAK, ClientSpec(["policy:read"]))
    assert _rows(session) == []
    assert audit.events == []


@pytest.mark.parametrize(
    "change",
    [
        lambda m, cid: m.update(WEAK, cid, ClientChanges(name="mine")),
        lambda m, cid: m.set_scopes(WEAK, cid, ["rule:read"]),
        lambda m, cid: m.rotate(WEAK, cid, Rotation()),
        lambda m, cid: m.revoke_tokens(WEAK, cid),
        lambda m, cid: m.delete(WEAK, cid),
    ],
    ids=["update", "set_scopes", "rotate", "revoke_tokens", "delete"],
)
def test_a_weaker_actor_cannot_touch_a_stronger_client(
    core_kit: Any, change: Any
) -> None:
    core, audit, session = core_kit
    target, _ = core.management.create(STRONG, ClientSpec(["policy:read"]))
    before, counter = _rows(session), _counter(session)
    audit.events.clear()
    with pytest.raises(ForbiddenScopesError):
        change(core.management, target.id)
    session.remove()
    assert _rows(session) == before
    assert _counter(session) == counter
    assert audit.events == []


def test_changes_that_affect_tokens_raise_the_counter(core_kit: Any) -> None:
    core, audit, session = core_kit
    start = _counter(session)
    client, _ = core.management.create(STRONG, ClientSpec(["rule:read"]))
    assert _counter(session) == start  # a new client invalidates nothing
    core.management.set_scopes(STRONG, client.id, [])
    core.management.revoke_tokens(STRONG, client.id)
    core.management.delete(STRONG, client.id)
    assert _counter(session) == start + 3
    assert audit.names() == [
        "client_created",
        "client_scopes_changed",
        "client_tokens_revoked",
        "client_deleted",
    ]


def test_rotation_grace_ends_by_the_injected_clock(core_kit: Any, clock: Any) -> None:
    core, _, _ = core_kit
    client, old = core.management.create(STRONG, ClientSpec([]))
    client, new = core.management.rotate(STRONG, client.id, Rotation(grace_seconds=60))
    assert client.previous_secret_expires_at == clock.now + 60
    record = core.store.find_client(client.id)
    assert record.previous_secret_hash_at(clock.now + 59) is not None
    assert record.previous_secret_hash_at(clock.now + 61) is None
    assert new != old


def test_the_root_is_not_a_stored_client(core_kit: Any) -> None:
    core, audit, _ = core_kit
    for call in (
        lambda: core.management.get(ROOT_ID),
        lambda: core.management.revoke_tokens(STRONG, ROOT_ID),
        lambda: core.management.delete(STRONG, ROOT_ID),
    ):
        with pytest.raises(NotFoundError):
            call()
    # The operator may end the root's tokens (there is no other way to).
    before = core.store.find_client(ROOT_ID).token_generation
    assert core.management.revoke_tokens(OPERATOR, ROOT_ID) == ROOT_ID
    assert core.store.find_client(ROOT_ID).token_generation == before + 1
    assert audit.names() == ["client_tokens_revoked"]


def test_the_operator_is_not_subject_to_containment(core_kit: Any) -> None:
    core, _, session = core_kit
    client, _ = core.management.create(OPERATOR, ClientSpec(["policy:read"]))
    assert core.management.delete(OPERATOR, client.id)
    assert _rows(session) == []


def test_delete_asks_first(core_kit: Any) -> None:
    core, audit, session = core_kit
    client, _ = core.management.create(STRONG, ClientSpec([]))
    seen: list[str] = []

    def decline(target: OAuthClient) -> bool:
        seen.append(target.id)
        return False

    assert core.management.delete(STRONG, client.id, confirm=decline) is False
    assert seen == [client.id]
    assert [row[0] for row in _rows(session)] == [client.id]
    assert audit.names() == ["client_created"]
