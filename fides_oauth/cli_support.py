"""What every ``flask fides-oauth`` command shares: one-line failures and
the operator as the actor."""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Callable
from typing import Any
from typing import TypeVar

import click
from alembic.util import CommandError
from authlib.oauth2 import OAuth2Error
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm.exc import StaleDataError

from .errors import UnknownScopesError
from .management import Actor
from .outages import describe
from .outages import is_schema_problem
from .state import current_state

__all__ = [
    "ACTOR",
    "TRACEBACK_ENV",
    "echo_json",
    "fail_cleanly",
    "operator",
    "refuse_root",
]

ACTOR = "cli"
F = TypeVar("F", bound=Callable[..., Any])


#: Click's own ways out (an error it prints, Ctrl-C at a prompt, an exit):
#: two of them are RuntimeErrors, which must not be taken for the library's.
_CLICK_FLOW = (click.ClickException, click.exceptions.Abort, click.exceptions.Exit)

#: Set to 1 to see the traceback of an unexpected CLI failure.
TRACEBACK_ENV = "FIDES_OAUTH_CLI_TRACEBACK"


def fail_cleanly(command: F) -> F:
    """One line on stderr and a non-zero exit for every failure: the
    expected ones say what to do; an unexpected one names itself and how to
    see its traceback."""

    def wrapped(*args: Any, **kwargs: Any) -> Any:
        try:
            return _run(command, *args, **kwargs)
        except _CLICK_FLOW:
            raise
        except Exception as error:  # the CLI prints no traceback
            if os.environ.get(TRACEBACK_ENV) == "1":
                raise
            raise click.ClickException(
                f"unexpected {type(error).__name__}: {error} "
                f"(set {TRACEBACK_ENV}=1 to see the traceback)"
            ) from None

    functools.update_wrapper(wrapped, command)
    return wrapped  # type: ignore[return-value]


def _run(command: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """``command``, with the library's expected failures as one line each."""
    try:
        return command(*args, **kwargs)
    except _CLICK_FLOW:
        raise
    except UnknownScopesError as error:
        _rollback()
        raise click.ClickException(
            "unknown scopes: "
            + ", ".join(error.extra["unknown_scopes"])
            + "; `flask fides-oauth scopes` lists the registered ones"
        ) from None
    except OAuth2Error as error:
        _rollback()
        raise click.ClickException(
            str(error.get_error_description() or error.error)
        ) from None
    except CommandError as error:  # Alembic: an unknown revision, say
        raise click.ClickException(
            f"{error} (see `flask fides-oauth db current`; the newest is "
            '"head", and "base" is no tables)'
        ) from None
    except StaleDataError:
        _rollback()
        raise click.ClickException(
            "the client changed meanwhile; nothing was written, retry"
        ) from None
    except RuntimeError as error:
        # The library's "what to do" errors: a configured key to rotate
        # elsewhere, a key-encryption key that does not open the keys
        # (SealError), Redis unreachable (SharedStateUnavailable).
        _rollback()
        raise click.ClickException(str(error)) from None
    except SQLAlchemyError as error:
        _rollback()
        name, message = describe(error)
        hint = (
            "; run `flask fides-oauth db upgrade`" if is_schema_problem(error) else ""
        )
        raise click.ClickException(
            f"the database failed: {name}: {message}{hint}"
        ) from None


def _rollback() -> None:
    current_state().core.store.rollback()


def refuse_root(client_id: str, advice: str) -> None:
    """The root client is configuration, not a stored client: a command
    about a stored client says so (with ``advice``) rather than "not found"."""
    if current_state().core.store.is_root(client_id):
        raise click.ClickException(
            f"{client_id} is the root client: it lives in the app's configuration "
            f"(FIDES_OAUTH_ROOT_CLIENT_ID, FIDES_OAUTH_ROOT_CLIENT_SECRET), not in "
            f"the database. {advice}"
        )


def operator() -> Actor:
    """The CLI acts as the operator: every scope, audited as "cli"."""
    return Actor(ACTOR, current_state().core.registry.all, operator=True)


def echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, sort_keys=True))
