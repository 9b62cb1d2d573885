"""Per-app state: everything the library knows about one app.

It lives in ``app.extensions["fides_oauth"]``, built in one step when the
blueprint is registered, and is reached through :func:`current_state`; no
object of the library keeps a reference to an app.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app

from .core import Core
from .issuer import IssuerRule
from .protect import BearerProtector
from .server import AuthorizationServer

__all__ = ["EXTENSION_KEY", "OAuthState", "current_state"]

EXTENSION_KEY = "fides_oauth"


@dataclass(frozen=True, eq=False)
class OAuthState:
    #: The Flask-free services: store, keys, limits, use cases.
    core: Core
    #: The issuer (and audience) of tokens for the request at hand.
    issuer: IssuerRule
    #: Authlib's authorization server: the token, revocation and
    #: introspection endpoints.
    server: AuthorizationServer
    #: Authlib's resource protector: the bearer check of protected routes.
    protector: BearerProtector
    url_prefix: str
    blueprint_name: str

    def __repr__(self) -> str:
        return (
            f"<OAuthState root={self.core.root.client_id!r} prefix={self.url_prefix!r}>"
        )


def current_state() -> OAuthState:
    """The state of the app handling this request."""
    state = current_app.extensions.get(EXTENSION_KEY)
    if state is None:
        raise RuntimeError(
            "fides_oauth is not registered on this app. Register it with "
            "app.register_blueprint(FidesOAuth(session=...), url_prefix=...) "
            "before serving requests."
        )
    return state  # type: ignore[no-any-return]
