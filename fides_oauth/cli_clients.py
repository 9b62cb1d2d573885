"""``flask fides-oauth`` commands for clients: create, list, show, change,
rotate, revoke, delete. Each calls one management use case as the operator."""

from __future__ import annotations

import json
from typing import Any

import click
from flask.cli import with_appcontext

from . import bodies
from . import clients
from .cli_support import echo_json
from .cli_support import fail_cleanly
from .cli_support import operator
from .client_metadata import AUTH_METHODS
from .state import current_state

# -- clients -------------------------------------------------------------------


@click.command("create-client")
@click.option("--scope", "scopes", multiple=True, help="A scope; repeat for more.")
@click.option("--name", default=None)
@click.option("--description", default=None)
@click.option(
    "--auth-method",
    type=click.Choice(AUTH_METHODS),
    default=None,
    help="How the client authenticates (default client_secret_basic).",
)
@click.option(
    "--jwks-file",
    type=click.File("r"),
    default=None,
    help="A JSON file with the client's public JWK Set (private_key_jwt).",
)
@click.option("--jwks-uri", default=None, help="An https URL of the JWK Set.")
@click.option(
    "--token-lifetime", type=int, default=None, help="Access-token lifetime, seconds."
)
@fail_cleanly
@with_appcontext
def create_client(
    scopes: tuple[str, ...],
    name: str | None,
    description: str | None,
    auth_method: str | None,
    jwks_file: Any,
    jwks_uri: str | None,
    token_lifetime: int | None,
) -> None:
    """Create a client; print its id and its secret (shown only now)."""
    state = current_state()
    body: dict[str, Any] = {
        "scopes": list(scopes),
        "name": name,
        "description": description,
    }
    if auth_method:
        body["token_endpoint_auth_method"] = auth_method
    if jwks_file is not None:
        try:
            body["jwks"] = json.load(jwks_file)
        except ValueError as exc:
            raise click.ClickException(f"{jwks_file.name} is not JSON") from exc
    if jwks_uri:
        body["jwks_uri"] = jwks_uri
    if token_lifetime is not None:
        body["access_token_lifetime"] = token_lifetime
    spec = bodies.parse_create_body(
        body, state.core.registry, state.core.config.jwks_uri_allow_loopback
    )
    client, secret = state.core.management.create(operator(), spec)
    click.echo(f"client_id: {client.id}")
    if secret is not None:
        click.echo(f"client_secret: {secret}")
        click.echo("Store the secret now: it cannot be shown again.", err=True)


@click.command("list-clients")
@click.option("--json", "as_json", is_flag=True, help="JSON for scripts.")
@fail_cleanly
@with_appcontext
def list_clients(as_json: bool) -> None:
    """List every client (never a secret)."""
    state = current_state()
    items: list[dict[str, Any]] = []
    page = 1
    while True:
        batch, total = state.core.management.page(page, bodies.MAX_PAGE_SIZE)
        items.extend(clients.serialize_client(c) for c in batch)
        if len(items) >= total or not batch:
            break
        page += 1
    if as_json:
        echo_json(items)
        return
    rows = [("CLIENT ID", "NAME", "SCOPES", "CREATED")] + [
        (
            item["client_id"],
            item["name"] or "-",
            " ".join(item["scopes"]) or "-",
            item["created_at"][:19],
        )
        for item in items
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    for row in rows:
        click.echo(
            "  ".join(
                cell.ljust(width) for cell, width in zip(row[:3], widths, strict=True)
            )
            + "  "
            + row[3]
        )


@click.command("show-client")
@click.argument("client_id")
@fail_cleanly
@with_appcontext
def show_client(client_id: str) -> None:
    """Show one client as JSON (never its secret)."""
    echo_json(clients.serialize_client(current_state().core.management.get(client_id)))


@click.command("set-scopes")
@click.argument("client_id")
@click.argument("scopes", nargs=-1)
@fail_cleanly
@with_appcontext
def set_scopes(client_id: str, scopes: tuple[str, ...]) -> None:
    """Replace a client's scopes (none given: no scopes)."""
    state = current_state()
    wanted = bodies.parse_scopes(list(scopes), state.core.registry)
    client = state.core.management.set_scopes(operator(), client_id, wanted)
    click.echo(" ".join(client.scopes) or "(no scopes)")


@click.command("rotate-secret")
@click.argument("client_id")
@click.option(
    "--grace-seconds",
    type=click.IntRange(min=0),
    default=0,
    help="Keep the old secret working this long.",
)
@click.option("--revoke-tokens", is_flag=True, help="Also revoke every issued token.")
@fail_cleanly
@with_appcontext
def rotate_secret(client_id: str, grace_seconds: int, revoke_tokens: bool) -> None:
    """Give a client a new secret; print it (shown only now)."""
    state = current_state()
    rotation = bodies.parse_rotation_body(
        {"grace_seconds": grace_seconds, "revoke_tokens": revoke_tokens},
        state.core.config.max_rotation_grace,
    )
    client, secret = state.core.management.rotate(operator(), client_id, rotation)
    click.echo(f"client_id: {client.id}")
    click.echo(f"client_secret: {secret}")
    until = clients.epoch_to_iso(client.previous_secret_expires_at)
    if until:
        click.echo(f"previous secret valid until: {until}")


@click.command("revoke-tokens")
@click.argument("client_id")
@fail_cleanly
@with_appcontext
def revoke_tokens(client_id: str) -> None:
    """Invalidate every token issued to a client so far (the root's too:
    rotating the root secret alone leaves its issued tokens valid)."""
    state = current_state()
    revoked = state.core.management.revoke_tokens(operator(), client_id)
    if state.core.store.is_root(revoked):
        click.echo("Revoked every token of the root client.")
    else:
        click.echo(f"Revoked every token of {revoked}.")


@click.command("delete-client")
@click.argument("client_id")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@fail_cleanly
@with_appcontext
def delete_client(client_id: str, yes: bool) -> None:
    """Delete a client; its tokens stop working at once."""
    deleted = current_state().core.management.delete(
        operator(),
        client_id,
        confirm=lambda client: yes or click.confirm(f"Delete client {client.id}?"),
    )
    if not deleted:
        raise click.ClickException("not deleted")
    click.echo(f"Deleted {client_id}.")
