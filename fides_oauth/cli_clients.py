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
from .cli_support import refuse_root
from .client_metadata import AUTH_METHODS
from .state import current_state

# -- clients -------------------------------------------------------------------


_ROOT_FIXED = "It holds every scope; it cannot be changed or deleted here."


@click.command("create-client")
@click.option(
    "--scope",
    "scopes",
    multiple=True,
    help="A scope the client may ask for; repeat for more "
    "(`flask fides-oauth scopes` lists them).",
)
@click.option(
    "--no-scopes",
    is_flag=True,
    help="Create a client with no scope at all (without --scope, required).",
)
@click.option("--name", default=None, help="A name people recognise it by.")
@click.option("--description", default=None, help="What the client is for.")
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
    "--token-lifetime",
    type=int,
    default=None,
    help="Its access tokens' lifetime, seconds (default: the server's).",
)
@click.option(
    "--json", "as_json", is_flag=True, help="Print the id and secret as JSON."
)
@fail_cleanly
@with_appcontext
def create_client(
    scopes: tuple[str, ...],
    no_scopes: bool,
    as_json: bool,
    name: str | None,
    description: str | None,
    auth_method: str | None,
    jwks_file: Any,
    jwks_uri: str | None,
    token_lifetime: int | None,
) -> None:
    """Create a client; print its id and its secret (shown only now)."""
    if not scopes and not no_scopes:
        raise click.ClickException(
            "no --scope given: name the scopes the client may ask for (list them "
            "with `flask fides-oauth scopes`), or pass --no-scopes for a client "
            "with none"
        )
    if scopes and no_scopes:
        raise click.ClickException("--scope and --no-scopes contradict each other")
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
    if as_json:
        echo_json({"client_id": client.id, "client_secret": secret})
    else:
        click.echo(f"client_id: {client.id}")
        if secret is not None:
            click.echo(f"client_secret: {secret}")
    if secret is not None:
        click.echo("Store the secret now: it cannot be shown again.", err=True)


@click.command("list-clients")
@click.option("--json", "as_json", is_flag=True, help="Print JSON, for scripts.")
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
    refuse_root(client_id, _ROOT_FIXED)
    echo_json(clients.serialize_client(current_state().core.management.get(client_id)))


@click.command("set-scopes")
@click.argument("client_id")
@click.argument("scopes", nargs=-1)
@fail_cleanly
@with_appcontext
def set_scopes(client_id: str, scopes: tuple[str, ...]) -> None:
    """Replace a client's scopes (none given: no scopes)."""
    refuse_root(client_id, _ROOT_FIXED)
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
    refuse_root(
        client_id,
        "To rotate its secret, change FIDES_OAUTH_ROOT_CLIENT_SECRET there and "
        "restart every worker; then `flask fides-oauth revoke-tokens "
        f"{client_id}` ends the tokens the old secret obtained.",
    )
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
    refuse_root(client_id, _ROOT_FIXED)
    deleted = current_state().core.management.delete(
        operator(),
        client_id,
        confirm=lambda client: yes or click.confirm(f"Delete client {client.id}?"),
    )
    if not deleted:
        raise click.ClickException("not deleted")
    click.echo(f"Deleted {client_id}.")
