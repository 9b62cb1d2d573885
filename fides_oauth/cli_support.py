"""What every ``flask fides-oauth`` command shares: one-line failures and
the operator as the actor."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from typing import TypeVar

import click
from authlib.oauth2 import OAuth2Error
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm.exc import StaleDataError

from .management import Actor
from .outages import describe
from .outages import is_schema_problem
from .state import current_state

__all__ = ["ACTOR", "echo_json", "fail_cleanly", "operator"]

ACTOR = "cli"
F = TypeVar("F", bound=Callable[..., Any])


def fail_cleanly(command: F) -> F:
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
        except RuntimeError as error:
            # The library's "what to do" errors: a configured key to rotate
            # elsewhere, a key-encryption key that does not open the keys
            # (SealError), Redis unreachable (SharedStateUnavailable).
            current_state().core.store.rollback()
            raise click.ClickException(str(error)) from None
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


def operator() -> Actor:
    """The CLI acts as the operator: every scope, audited as "cli"."""
    return Actor(ACTOR, current_state().core.registry.all, operator=True)


def echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, sort_keys=True))
