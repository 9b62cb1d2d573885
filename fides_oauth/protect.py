"""Protecting routes: the bearer-token validator and Authlib's protector.

A request is let through when its token's signature, ``typ``, ``iss``,
``aud`` and ``exp`` check out, its client still exists, and its *effective*
scopes — the token's scopes intersected with the client's scopes as they
are now — include every scope the route requires. Removing a scope from a
client, or deleting it, therefore takes effect on tokens already issued.
"""

from __future__ import annotations

from typing import Any
from typing import cast

from authlib.integrations.flask_oauth2 import ResourceProtector
from authlib.integrations.flask_oauth2.signals import token_authenticated
from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749.errors import MissingAuthorizationError
from authlib.oauth2.rfc6749.errors import UnsupportedTokenTypeError
from authlib.oauth2.rfc6750 import BearerTokenValidator
from flask import abort
from flask import g
from flask import request
from sqlalchemy.exc import SQLAlchemyError

from .core import Core
from .errors import REALM
from .errors import InsufficientScopeWithHintError
from .errors import MissingBearerError
from .issuer import IssuerRule
from .responses import render
from .sealing import SealError
from .tokens import AuthenticatedClient
from .tokens import VerifiedToken
from .tokens import verify_token

__all__ = ["CALLER_KEY", "BearerProtector", "TokenValidator"]

#: Where a protected request's caller is kept, in ``flask.g``.
CALLER_KEY = "_fides_oauth_client"


class TokenValidator(BearerTokenValidator):  # type: ignore[misc]
    """Authlib's bearer validator, checking tokens with :mod:`.tokens`."""

    def __init__(self, core: Core, issuer: IssuerRule) -> None:
        super().__init__(realm=REALM)
        self._core = core
        self._issuer = issuer

    def authenticate_token(self, token_string: str) -> VerifiedToken:
        return verify_token(self._core, token_string, self._issuer())

    def validate_token(
        self,
        token: VerifiedToken,
        scopes: list[str] | None,
        request: Any,
        **kwargs: Any,
    ) -> None:
        if scopes and not token.scopes.issuperset(scopes):
            raise InsufficientScopeWithHintError(scopes)
        setattr(g, CALLER_KEY, token.caller)


class _HeadersOnly:
    """What Authlib's bearer validation reads of a request."""

    __slots__ = ("headers",)

    def __init__(self, headers: Any) -> None:
        self.headers = headers


class BearerProtector(ResourceProtector):  # type: ignore[misc]
    """Authlib's Flask resource protector, answering with our renderer."""

    def __init__(self, core: Core, issuer: IssuerRule) -> None:
        super().__init__()
        self._core = core
        self.register_token_validator(TokenValidator(core, issuer))

    def parse_request_authorization(self, request: Any) -> tuple[Any, str]:
        try:
            return cast(tuple[Any, str], super().parse_request_authorization(request))
        except (MissingAuthorizationError, UnsupportedTokenTypeError) as exc:
            # RFC 6750 §3.1: a request without authentication information,
            # or "attempted using an unsupported authentication method",
            # gets a challenge without an error code.
            raise MissingBearerError() from exc

    def raise_error_response(self, error: OAuth2Error) -> None:
        abort(render(error))

    def acquire_token(
        self, scopes: list[str] | None = None, **kwargs: Any
    ) -> VerifiedToken:
        """Authlib's flow, minus the request-URL building of its
        ``FlaskJsonRequest``: bearer validation reads the headers only."""
        token: VerifiedToken = self.validate_request(
            scopes, _HeadersOnly(request.headers), **kwargs
        )
        token_authenticated.send(self, token=token)
        g.authlib_server_oauth2_token = token
        return token

    def authorize(self, scopes: tuple[str, ...]) -> AuthenticatedClient:
        """Check the request's bearer token for ``scopes`` (all of them)."""
        try:
            self.acquire_token(scopes=list(scopes))
        except OAuth2Error as error:
            self.raise_error_response(error)
        except (SQLAlchemyError, SealError) as exc:
            # The client or the keys could not be read: say so, never a 500.
            self._core.store.rollback()
            self.raise_error_response(self._core.outages.report(exc))
        return cast(AuthenticatedClient, g.get(CALLER_KEY))
