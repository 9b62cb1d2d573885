"""``flask fides-oauth ...``: operator commands, registered with the blueprint.

The operator at the shell is trusted like the root client: commands are not
subject to scope containment, and they are audited with the actor ``cli``.
A secret is printed only by the command that creates it (``create-client``,
``rotate-secret``); ``token`` reads the secret from a prompt or standard
input, never from an argument, so it stays out of shell history.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any
from typing import TypeVar

import click
from authlib.oauth2 import OAuth2Error
from flask import Blueprint
from flask.cli import with_appcontext
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm.exc import StaleDataError

from . import bodies
from . import clients
from . import migrate
from .client_metadata import AUTH_METHODS
from .management import Actor
from .outages import describe
from .outages import is_schema_problem
from .state import current_state

__all__ = ["register_commands"]

ACTOR = "cli"
F = TypeVar("F", bound=Callable[..., Any])


def _fail_cleanly(command: F) -> F:
    """One line on stderr and a non-zero exit for every expected failure."""

    def wrapped(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except OAuth2Error as error:
            current_state().core.store.rollback()
            raise click.ClickException(
                str(error.get_error_description() or error.error)
            ) from None
        except StaleDataError:
            current_state().core.store.rollback()
            raise click.ClickException(
                "the client changed meanwhile; nothing was written, retry"
            ) from None
        except SQLAlchemyError as error:
            current_state().core.store.rollback()
            name, message = describe(error)
            hint = (
                "; run `flask fides-oauth db upgrade`"
                if is_schema_problem(error)
                else ""
            )
            raise click.ClickException(
                f"the database failed: {name}: {message}{hint}"
            ) from None

    wrapped.__name__ = command.__name__
    wrapped.__doc__ = command.__doc__
    return wrapped  # type: ignore[return-value]


def _operator() -> Actor:
    """The CLI acts as the operator: every scope, audited as "cli"."""
    return Actor(ACTOR, current_state().core.registry.all, operator=True)


def _echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, sort_keys=True))


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
@_fail_cleanly
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
    client, secret = state.core.management.create(_operator(), spec)
    click.echo(f"client_id: {client.id}")
    if secret is not None:
        click.echo(f"client_secret: {secret}")
        click.echo("Store the secret now: it cannot be shown again.", err=True)


@click.command("list-clients")
@click.option("--json", "as_json", is_flag=True, help="JSON for scripts.")
@_fail_cleanly
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
        _echo_json(items)
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
@_fail_cleanly
@with_appcontext
def show_client(client_id: str) -> None:
    """Show one client as JSON (never its secret)."""
    _echo_json(clients.serialize_client(current_state().core.management.get(client_id)))


@click.command("set-scopes")
@click.argument("client_id")
@click.argument("scopes", nargs=-1)
@_fail_cleanly
@with_appcontext
def set_scopes(client_id: str, scopes: tuple[str, ...]) -> None:
    """Replace a client's scopes (none given: no scopes)."""
    state = current_state()
    wanted = bodies.parse_scopes(list(scopes), state.core.registry)
    client = state.core.management.set_scopes(_operator(), client_id, wanted)
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
@_fail_cleanly
@with_appcontext
def rotate_secret(client_id: str, grace_seconds: int, revoke_tokens: bool) -> None:
    """Give a client a new secret; print it (shown only now)."""
    state = current_state()
    rotation = bodies.parse_rotation_body(
        {"grace_seconds": grace_seconds, "revoke_tokens": revoke_tokens},
        state.core.config.max_rotation_grace,
    )
    client, secret = state.core.management.rotate(_operator(), client_id, rotation)
    click.echo(f"client_id: {client.id}")
    click.echo(f"client_secret: {secret}")
    until = clients.epoch_to_iso(client.previous_secret_expires_at)
    if until:
        click.echo(f"previous secret valid until: {until}")


@click.command("revoke-tokens")
@click.argument("client_id")
@_fail_cleanly
@with_appcontext
def revoke_tokens(client_id: str) -> None:
    """Invalidate every token issued to a client so far (the root's too:
    rotating the root secret alone leaves its issued tokens valid)."""
    state = current_state()
    revoked = state.core.management.revoke_tokens(_operator(), client_id)
    if state.core.store.is_root(revoked):
        click.echo("Revoked every token of the root client.")
    else:
        click.echo(f"Revoked every token of {revoked}.")


@click.command("delete-client")
@click.argument("client_id")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@_fail_cleanly
@with_appcontext
def delete_client(client_id: str, yes: bool) -> None:
    """Delete a client; its tokens stop working at once."""
    deleted = current_state().core.management.delete(
        _operator(),
        client_id,
        confirm=lambda client: yes or click.confirm(f"Delete client {client.id}?"),
    )
    if not deleted:
        raise click.ClickException("not deleted")
    click.echo(f"Deleted {client_id}.")


# -- signing keys --------------------------------------------------------------


@click.command("rotate-signing-key")
@_fail_cleanly
@with_appcontext
def rotate_signing_key() -> None:
    """Sign new tokens with a new key; the old one verifies until expiry."""
    try:
        kid = current_state().core.keys.rotate()
    except RuntimeError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"New signing key: {kid}")


@click.command("reseal-keys")
@_fail_cleanly
@with_appcontext
def reseal_keys() -> None:
    """Seal every stored signing key under the first key-encryption key
    (the second step of a rotation of FIDES_OAUTH_KEY_ENCRYPTION_KEY)."""
    try:
        changed = current_state().core.keys.reseal()
    except RuntimeError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"Re-sealed {changed} signing keys under the current key.")


# -- housekeeping and schema ---------------------------------------------------


@click.command("prune")
@_fail_cleanly
@with_appcontext
def prune_command() -> None:
    """Delete expired revocations and passed failure windows."""
    deleted = current_state().core.prune()
    click.echo(
        f"Deleted {deleted['revoked_tokens']} revoked-token entries and "
        f"{deleted['auth_failures']} failure counts."
    )


@click.group("db")
@with_appcontext
def db() -> None:
    """Migrations of the library's tables (their own Alembic history)."""


@db.command("upgrade")
@click.argument("revision", default="head")
@with_appcontext
def db_upgrade(revision: str) -> None:
    """Upgrade the library's tables (to the newest revision by default)."""
    migrate.upgrade(revision=revision)
    click.echo(f"fides_oauth tables at {migrate.current()}")


@db.command("downgrade")
@click.argument("revision")
@with_appcontext
def db_downgrade(revision: str) -> None:
    """Downgrade the library's tables ("base" drops them)."""
    migrate.downgrade(revision)
    click.echo(f"fides_oauth tables at {migrate.current() or 'base'}")


@db.command("current")
@with_appcontext
def db_current() -> None:
    """Print the revision the library's tables are at."""
    click.echo(migrate.current() or "none")


# -- scopes and tokens ---------------------------------------------------------


@click.command("scopes")
@with_appcontext
def list_scopes() -> None:
    """Print every registered scope."""
    for name in current_state().core.registry.sorted():
        click.echo(name)


@click.command("token")
@click.argument("client_id")
@click.option(
    "--base-url",
    default=None,
    help="The server's public URL (for the issuer) when FIDES_OAUTH_ISSUER "
    "is not set, e.g. https://api.example.org.",
)
@click.option("--scope", default=None, help="Narrow the token to these scopes.")
@with_appcontext
def token(client_id: str, base_url: str | None, scope: str | None) -> None:
    """Print an access token; the secret is read from a prompt or stdin."""
    from flask import current_app

    state = current_state()
    if not state.core.config.issuer and not base_url:
        raise click.ClickException(
            "set FIDES_OAUTH_ISSUER or pass --base-url, so the token's "
            "issuer matches the server that will check it"
        )
    if sys.stdin.isatty():
        secret = click.prompt("Client secret", hide_input=True)
    else:
        secret = sys.stdin.readline().rstrip("\r\n")
    data = {"client_id": client_id, "client_secret": secret}
    if scope:
        data["scope"] = scope
    with current_app.test_request_context(
        state.url_prefix + "/oauth/token",
        method="POST",
        base_url=base_url or "https://localhost",
        data=data,
    ):
        response = state.server.create_token_response()
    body = response.get_json()
    if response.status_code != 200:
        raise click.ClickException(f"{body['error']}: {body['error_description']}")
    click.echo(body["access_token"])


#: Every command of ``flask fides-oauth``.
COMMANDS = (
    create_client,
    list_clients,
    show_client,
    set_scopes,
    rotate_secret,
    revoke_tokens,
    delete_client,
    rotate_signing_key,
    reseal_keys,
    prune_command,
    db,
    list_scopes,
    token,
)


def register_commands(bp: Blueprint) -> None:
    for command in COMMANDS:
        bp.cli.add_command(command)
