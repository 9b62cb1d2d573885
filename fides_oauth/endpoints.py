"""Token revocation (RFC 7009) and introspection (RFC 7662), on Authlib's
endpoint classes.

Both authenticate the calling client like the token endpoint does (HTTP
Basic or form; the same failure limits) and judge tokens with
:mod:`.tokens`, so a token is "active" here exactly when a protected route
would accept it.
"""

from __future__ import annotations

from typing import Any
from typing import ClassVar

from authlib.consts import default_json_headers
from authlib.oauth2.rfc6749.errors import InvalidRequestError
from authlib.oauth2.rfc6750.errors import InvalidTokenError
from authlib.oauth2.rfc7009 import RevocationEndpoint as _RevocationEndpoint
from authlib.oauth2.rfc7662 import IntrospectionEndpoint as _IntrospectionEndpoint
from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError

from .client_auth import METHOD_NAMES
from .clients import ClientRecord
from .core import Core
from .dpop import TOKEN_TYPE
from .errors import ForbiddenScopesError
from .issuer import IssuerRule
from .models import RevokedToken
from .scopes import TOKEN_INTROSPECT
from .tokens import VerifiedToken
from .tokens import decode_token
from .tokens import verify_token

__all__ = ["IntrospectionEndpoint", "RevocationEndpoint"]


def _require_token_param(request: Any) -> str:
    # RFC 7009 §2.1 / RFC 7662 §2.1: an unknown token_type_hint is ignored,
    # not an error; only "token" is required.
    token = request.form.get("token")
    if not token:
        raise InvalidRequestError(description="The 'token' parameter is required.")
    return str(token)


class _BoundToCore:
    """Both endpoints: authenticated like the token endpoint, on one app's
    services and issuer."""

    CLIENT_AUTH_METHODS: ClassVar[list[str]] = list(METHOD_NAMES)

    def __init__(self, server: Any, core: Core, issuer: IssuerRule) -> None:
        super().__init__(server)  # type: ignore[call-arg]
        self._core = core
        self._issuer = issuer


class RevocationEndpoint(_BoundToCore, _RevocationEndpoint):  # type: ignore[misc]
    """A client revokes its own access tokens; anything else changes nothing.

    Revoking another client's token, an unknown, expired or malformed token
    answers 200 as RFC 7009 §2.2 requires, and stores nothing.
    """

    def authenticate_token(
        self, request: Any, client: ClientRecord
    ) -> dict[str, Any] | None:
        claims = self.query_token(_require_token_param(request), None)
        if claims is None or claims["client_id"] != client.client_id:
            return None
        return claims

    def query_token(
        self, token_string: str, token_type_hint: str | None
    ) -> dict[str, Any] | None:
        try:
            return decode_token(self._core, token_string, self._issuer())
        except InvalidTokenError:
            return None

    def revoke_token(self, token: dict[str, Any], request: Any) -> None:
        """Revoke, with the audit row in the same transaction; a token
        already revoked (before, or by a concurrent request) changes nothing
        and records nothing."""
        core = self._core
        session = core.store.session()
        if session.get(RevokedToken, token["jti"]) is not None:
            return
        client_id, event = token["client_id"], "token_revoked"
        scopes = str(token.get("scope", "")).split()
        # Entries of tokens that have expired anyway are of no more use.
        session.execute(
            delete(RevokedToken).where(RevokedToken.expires_at < core.clock())
        )
        core.trail.stage(
            session, event, actor=client_id, target=client_id, scopes=scopes
        )
        # Added last, so its INSERT is flushed by the commit below, where a
        # concurrent revocation's duplicate key is caught.
        session.add(
            RevokedToken(
                jti=token["jti"], client_id=client_id, expires_at=float(token["exp"])
            )
        )
        try:
            core.store.commit()
        except IntegrityError:  # revoked concurrently: the same outcome
            session.rollback()
            return
        core.audit(event, actor=client_id, target=client_id, scopes=scopes)


class IntrospectionEndpoint(_BoundToCore, _IntrospectionEndpoint):  # type: ignore[misc]
    """For clients holding ``token:introspect``: is this token active?"""

    def authenticate_token(
        self, request: Any, client: ClientRecord
    ) -> VerifiedToken | None:
        token_string = _require_token_param(request)
        if TOKEN_INTROSPECT not in client.scopes:
            raise ForbiddenScopesError([TOKEN_INTROSPECT], "introspect tokens")
        try:
            return verify_token(self._core, token_string, self._issuer())
        except InvalidTokenError:
            return None

    def create_endpoint_response(self, request: Any) -> tuple[int, Any, Any]:
        client = self.authenticate_endpoint_client(request)
        token = self.authenticate_token(request, client)
        return 200, self.create_introspection_payload(token), default_json_headers

    def create_introspection_payload(
        self, token: VerifiedToken | None
    ) -> dict[str, Any]:
        # Expired, revoked, tampered, foreign or deleted-client tokens all
        # answer the same, as RFC 7662 §2.2 asks.
        if token is None:
            return {"active": False}
        return self.introspect_token(token)

    def introspect_token(self, token: VerifiedToken) -> dict[str, Any]:
        claims = token.claims
        body = {
            "active": True,
            "scope": " ".join(sorted(token.scopes)),
            "client_id": token.client_id,
            "token_type": "Bearer",
            "exp": claims["exp"],
            "iat": claims["iat"],
            "iss": claims["iss"],
            "sub": claims["sub"],
            "aud": claims["aud"],
            "jti": claims["jti"],
        }
        if token.jkt is not None:
            # RFC 9449 §6.2: "If the token_type member is included in the
            # introspection response, it MUST contain the value DPoP", and
            # the binding goes as a top-level "cnf".
            body["token_type"] = TOKEN_TYPE
            body["cnf"] = {"jkt": token.jkt}
        return body
