"""``flask fides-oauth ...``: operator commands, registered with the blueprint.

The operator at the shell is trusted like the root client: commands are not
subject to scope containment, and they are audited with the actor ``cli``.
A secret is printed only by the command that creates it (``create-client``,
``rotate-secret``); ``token`` reads the secret from a prompt or standard
input, never from an argument, so it stays out of shell history.
"""

from __future__ import annotations

from flask import Blueprint

from . import cli_clients
from . import cli_ops

__all__ = ["COMMANDS", "GROUP_HELP", "register_commands"]


#: Every command of ``flask fides-oauth``.
COMMANDS = (
    cli_clients.create_client,
    cli_clients.list_clients,
    cli_clients.show_client,
    cli_clients.set_scopes,
    cli_clients.rotate_secret,
    cli_clients.revoke_tokens,
    cli_clients.delete_client,
    cli_ops.rotate_signing_key,
    cli_ops.reseal_keys,
    cli_ops.prune_command,
    cli_ops.db,
    cli_ops.list_scopes,
    cli_ops.token,
)


#: The group's help, as ``flask fides-oauth --help`` shows it.
GROUP_HELP = (
    "Manage the OAuth clients, signing keys and tables of fides_oauth. "
    "Commands act as the operator (every scope) and are audited as 'cli'; a "
    "secret is printed only by the command that makes it."
)


def register_commands(bp: Blueprint) -> None:
    bp.cli.help = GROUP_HELP
    for command in COMMANDS:
        bp.cli.add_command(command)
