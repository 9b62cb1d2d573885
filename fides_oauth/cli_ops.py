"""``flask fides-oauth`` commands for keys, housekeeping, the schema, scopes
and tokens."""

from __future__ import annotations

import os
import sys
from urllib.parse import urlsplit
from urllib.parse import urlunsplit

import click
from flask.cli import with_appcontext

from . import migrate
from .cli_support import ACTOR
from .cli_support import fail_cleanly
from .state import current_state

# -- signing keys --------------------------------------------------------------


@click.command("rotate-signing-key")
@fail_cleanly
@with_appcontext
def rotate_signing_key() -> None:
    """Sign new tokens with a new key; the old one verifies until expiry."""
    kid = current_state().core.rotate_signing_key(ACTOR)
    click.echo(f"New signing key: {kid}")


@click.command("reseal-keys")
@fail_cleanly
@with_appcontext
def reseal_keys() -> None:
    """Seal every stored signing key under the first key-encryption key
    (the second step of a rotation of FIDES_OAUTH_KEY_ENCRYPTION_KEY)."""
    changed = current_state().core.keys.reseal()
    click.echo(f"Re-sealed {changed} signing keys under the current key.")


# -- housekeeping and schema ---------------------------------------------------


@click.command("prune")
@fail_cleanly
@with_appcontext
def prune_command() -> None:
    """Delete expired revocations, passed failure windows and audit events
    older than FIDES_OAUTH_AUDIT_RETENTION_DAYS."""
    deleted = current_state().core.prune()
    click.echo(
        f"Deleted {deleted['revoked_tokens']} revoked-token entries, "
        f"{deleted['auth_failures']} failure counts and "
        f"{deleted['audit_events']} audit events."
    )


@click.group("db")
@with_appcontext
def db() -> None:
    """Migrations of the library's tables (their own Alembic history)."""


@db.command("upgrade")
@click.argument("revision", default="head")
@fail_cleanly
@with_appcontext
def db_upgrade(revision: str) -> None:
    """Upgrade the library's tables (to the newest revision by default)."""
    migrate.upgrade(revision=revision)
    click.echo(f"fides_oauth tables at {migrate.current()}")


@db.command("downgrade")
@click.argument("revision")
@fail_cleanly
@with_appcontext
def db_downgrade(revision: str) -> None:
    """Downgrade the library's tables ("base" drops them)."""
    migrate.downgrade(revision)
    click.echo(f"fides_oauth tables at {migrate.current() or 'base'}")


@db.command("current")
@fail_cleanly
@with_appcontext
def db_current() -> None:
    """Print the revision the library's tables are at."""
    click.echo(migrate.current() or "none")


# -- scopes and tokens ---------------------------------------------------------


@click.command("scopes")
@fail_cleanly
@with_appcontext
def list_scopes() -> None:
    """Print every registered scope."""
    for name in current_state().core.registry.sorted():
        click.echo(name)


def _server_origin(base_url: str, prefix: str) -> str:
    """``--base-url`` as the server's root: with or without the blueprint's
    prefix (``https://api.example.org`` or ``…/api/v1``), the token's issuer
    is the same; plain http is refused here as the server would refuse it."""
    try:
        parts = urlsplit(base_url)
        parts.port  # noqa: B018 - raises on a port out of range
    except ValueError:  # an unclosed IPv6 bracket, a port past 65535
        parts = urlsplit("")
    if (
        parts.scheme not in ("http", "https")
        or not parts.hostname
        or parts.username is not None
    ):
        raise click.ClickException(
            f"--base-url {base_url!r} is not an http(s) URL without credentials, "
            "e.g. https://api.example.org"
        )
    if parts.scheme == "http" and not os.environ.get("AUTHLIB_INSECURE_TRANSPORT"):
        raise click.ClickException(
            f"--base-url {base_url} is plain http: OAuth 2 requires https. Give "
            "the https URL clients use (behind a TLS proxy, its public URL), or "
            "set AUTHLIB_INSECURE_TRANSPORT=1 where the server itself runs on "
            "http for local development"
        )
    path = parts.path.rstrip("/")
    if prefix and path.endswith(prefix):
        path = path[: -len(prefix)]
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


@click.command("token")
@click.argument("client_id")
@click.option(
    "--base-url",
    default=None,
    help="The server's public URL (for the issuer) when FIDES_OAUTH_ISSUER "
    "is not set, e.g. https://api.example.org (with the blueprint's prefix, "
    "…/api/v1, or without: the same).",
)
@click.option("--scope", default=None, help="Narrow the token to these scopes.")
@click.option(
    "--dpop-key",
    "dpop_key",
    type=click.Path(exists=True, dir_okay=False),
    default=None,
    help="A private key PEM (EC P-256/P-384, RSA or Ed25519): mint a DPoP-bound "
    "token (RFC 9449), usable only with proofs signed by this key.",
)
@fail_cleanly
@with_appcontext
def token(
    client_id: str, base_url: str | None, scope: str | None, dpop_key: str | None
) -> None:
    """Print an access token; the secret is read from a prompt or stdin."""
    from flask import current_app

    from .client import DPoPKey

    state = current_state()
    if not state.core.config.issuer and not base_url:
        raise click.ClickException(
            "set FIDES_OAUTH_ISSUER or pass --base-url, so the token's "
            "issuer matches the server that will check it"
        )
    if base_url:
        base_url = _server_origin(base_url, state.url_prefix)
    if sys.stdin.isatty():
        secret = click.prompt("Client secret", hide_input=True)
    else:
        secret = sys.stdin.readline().rstrip("\r\n")
    data = {"client_id": client_id, "client_secret": secret}
    if scope:
        data["scope"] = scope
    request = {
        "path": state.url_prefix + "/oauth/token",
        "method": "POST",
        "base_url": base_url or "https://localhost",
        "data": data,
    }
    key = None
    if dpop_key is not None:
        try:
            key = DPoPKey.load(dpop_key)
        except (ValueError, TypeError) as exc:  # not a key; encrypted
            raise click.ClickException(f"--dpop-key: {exc}") from exc
        with current_app.test_request_context(**request):
            url = state.issuer.request_url()  # the htu the server expects
        request["headers"] = {"DPoP": key.proof("POST", url)}
    with current_app.test_request_context(**request):
        response = state.server.create_token_response()
    body = response.get_json()
    if key is not None and body.get("error") == "use_dpop_nonce":
        # Nonces required: sign once more with the one the answer gives.
        nonce = response.headers["DPoP-Nonce"]
        request["headers"] = {"DPoP": key.proof("POST", url, nonce=nonce)}
        with current_app.test_request_context(**request):
            response = state.server.create_token_response()
        body = response.get_json()
    if response.status_code != 200:
        raise click.ClickException(f"{body['error']}: {body['error_description']}")
    click.echo(body["access_token"])
