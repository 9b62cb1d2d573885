"""The decorator a host puts on its routes, and the caller it sees.

@app.get("/policy")
@require_scopes("policy:read")
def policies():
    return {"client": current_client.client_id}

``async def`` views work too, with ``pip install 'flask[async]'``.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any
from typing import TypeVar
from typing import cast

from flask import g
from werkzeug.local import LocalProxy

from .protect import CALLER_KEY
from .scopes import is_valid_scope_name
from .state import current_state
from .tokens import AuthenticatedClient

__all__ = ["current_client", "require_scopes"]

F = TypeVar("F", bound=Callable[..., Any])


def require_scopes(*scopes: str) -> Callable[[F], F]:
    """Protect a view: the caller's token must carry *every* scope listed.

    ``@require_scopes()`` with no scope asks for a valid token only. The
    scopes must be registered (built-in or declared by the host).
    """
    bad = [name for name in scopes if not is_valid_scope_name(name)]
    if bad:
        raise ValueError(f"Malformed scope names {bad!r} in require_scopes().")

    def decorator(view: F) -> F:
        def authorize() -> None:
            state = current_state()
            if not state.core.registry.all.issuperset(scopes):
                unknown = state.core.registry.unknown(scopes)
                raise RuntimeError(
                    f"require_scopes{tuple(scopes)!r} on {view.__name__}: the "
                    f"scopes {unknown} are not registered. Declare them with "
                    "FidesOAuth(scopes=[...])."
                )
            state.protector.authorize(scopes)

        if inspect.iscoroutinefunction(view):
            try:  # what Flask runs async views with
                import asgiref.sync  # noqa: F401
            except ImportError:
                # Flask would say so on the first request, as a 500.
                raise RuntimeError(
                    f"{view.__name__} is an async view: Flask runs those with "
                    "pip install 'flask[async]'."
                ) from None

            # An async view stays a coroutine function, so Flask runs it the
            # way it runs any async view (``flask[async]``). The check itself
            # is synchronous: it reads the database like the rest of a
            # Flask request.
            @functools.wraps(view)
            async def wrapped_async(*args: Any, **kwargs: Any) -> Any:
                authorize()
                return await view(*args, **kwargs)

            return cast(F, wrapped_async)

        @functools.wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            authorize()
            return view(*args, **kwargs)

        return cast(F, wrapped)

    return decorator


def _get_current_client() -> AuthenticatedClient | None:
    return cast("AuthenticatedClient | None", g.get(CALLER_KEY))


#: The caller of the current protected request (``None`` outside one).
current_client: AuthenticatedClient = cast(
    AuthenticatedClient, LocalProxy(_get_current_client)
)
