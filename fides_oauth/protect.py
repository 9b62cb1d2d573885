"""Protecting routes: the token validators and Authlib's protector.

A request is let through when its token's signature, ``typ``, ``iss``,
``aud`` and ``exp`` check out, its client still exists, and its *effective*
scopes — the token's scopes intersected with the client's scopes as they
are now — include every scope the route requires. Removing a scope from a
client, or deleting it, therefore takes effect on tokens already issued.

Two schemes, one validator each on Authlib's protector: ``Bearer`` (RFC
6750) for unbound tokens, and ``DPoP`` (RFC 9449 §7) for tokens bound to a
key, each presented with a fresh proof by that key. A bound token sent as
Bearer is refused, and so is an unbound one sent as DPoP. The token's own
verification may come from the per-process cache; the proof — signature,
``htm``/``htu``, ``iat``, ``ath``, and its ``jti`` claimed in the shared
state — is checked on every request.
"""

from __future__ import annotations

import hmac
from typing import Any
from typing import cast

from authlib.integrations.flask_oauth2 import ResourceProtector
from authlib.integrations.flask_oauth2.signals import token_authenticated
from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749.errors import MissingAuthorizationError
from authlib.oauth2.rfc6749.errors import UnsupportedTokenTypeError
from authlib.oauth2.rfc6750 import BearerTokenValidator
from authlib.oauth2.rfc6750.errors import InsufficientScopeError
from authlib.oauth2.rfc6750.errors import InvalidTokenError
from flask import Response
from flask import abort
from flask import after_this_request
from flask import g
from flask import request

from .core import Core
from .errors import REALM
from .errors import DPoPChallengeError
from .errors import InsufficientScopeWithHintError
from .errors import InvalidDPoPProofError
from .errors import MissingBearerError
from .issuer import IssuerRule
from .outages import STORAGE_ERRORS
from .responses import render
from .tokens import AuthenticatedClient
from .tokens import VerifiedToken
from .tokens import invalid_token
from .tokens import verify_token

__all__ = ["CALLER_KEY", "BearerProtector", "DPoPTokenValidator", "TokenValidator"]

#: Refusals answered with a challenge of the request's scheme (a 503 is not).
_CHALLENGED = (InvalidTokenError, InsufficientScopeError, InvalidDPoPProofError)

#: Where a protected request's caller is kept, in ``flask.g``.
CALLER_KEY = "_fides_oauth_client"


class TokenValidator(BearerTokenValidator):  # type: ignore[misc]
    """Authlib's bearer validator, checking tokens with :mod:`.tokens`."""

    def __init__(self, core: Core, issuer: IssuerRule) -> None:
        super().__init__(realm=REALM)
        self._core = core
        self._issuer = issuer

    def authenticate_token(self, token_string: str) -> VerifiedToken:
        token = verify_token(self._core, token_string, self._issuer())
        if token.jkt is not None:
            # RFC 9449 §7.2: a bound token must not pass as a bearer token.
            raise invalid_token(
                "This token is DPoP-bound: send it as 'Authorization: DPoP' "
                "with a DPoP proof."
            )
        return token

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


class DPoPTokenValidator(TokenValidator):
    """``Authorization: DPoP <token>`` with a ``DPoP`` proof (RFC 9449 §7).

    The proof is checked first (no storage), then the token (perhaps from
    the cache), then that the proof's key is the token's ``cnf.jkt``; the
    proof's ``jti`` is claimed last, so only the holder of a valid bound
    token and its key writes to the shared state.
    """

    TOKEN_TYPE = "dpop"  # noqa: S105 - Authlib's scheme key, not a secret

    def authenticate_token(self, token_string: str) -> VerifiedToken:
        proof = self._core.dpop.check(
            request.headers.getlist("DPoP"),
            request.method,
            self._issuer.request_url(),
            access_token=token_string,
        )
        token = verify_token(self._core, token_string, self._issuer())
        if token.jkt is None:
            raise invalid_token(
                "This is a bearer token: send it as 'Authorization: Bearer'."
            )
        if not hmac.compare_digest(token.jkt, proof.jkt):
            raise InvalidDPoPProofError(
                "The proof is not signed by the key this token is bound to.",
                nonce=self._core.dpop.current_nonce(),
            )
        self._core.dpop.claim(proof)
        return token


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
        self.register_token_validator(DPoPTokenValidator(core, issuer))

    def parse_request_authorization(self, request: Any) -> tuple[Any, str]:
        try:
            return cast(tuple[Any, str], super().parse_request_authorization(request))
        except (MissingAuthorizationError, UnsupportedTokenTypeError) as exc:
            # RFC 6750 §3.1: a request without authentication information,
            # or "attempted using an unsupported authentication method",
            # gets a challenge without an error code.
            raise MissingBearerError(self._core.dpop.algorithms) from exc

    def raise_error_response(self, error: OAuth2Error) -> None:
        algorithms = self._core.dpop.algorithms
        if not isinstance(error, _CHALLENGED):
            abort(render(error))
        if _uses_dpop():
            # RFC 9449 §7.1: refusals of the DPoP scheme carry its challenge.
            abort(render(DPoPChallengeError(error, algorithms)))
        # RFC 9449 §7.2, Figure 18: the Bearer challenge carries the error,
        # and the DPoP one says the route takes that scheme too.
        response = render(error)
        challenges = [response.headers.get("WWW-Authenticate")]
        challenges.append(f'DPoP algs="{" ".join(algorithms)}"')
        response.headers["WWW-Authenticate"] = ", ".join(filter(None, challenges))
        abort(response)

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
        telemetry = self._core.telemetry
        try:
            self.acquire_token(scopes=list(scopes))
        except OAuth2Error as error:
            telemetry.bearer_check(False, error.error)
            self.raise_error_response(error)
        except STORAGE_ERRORS as exc:
            # The client, the keys or the shared state (a DPoP proof's jti)
            # could not be reached: say so, never a 500.
            self._core.store.rollback()
            telemetry.bearer_check(False, "temporarily_unavailable")
            self.raise_error_response(self._core.outages.report(exc))
        telemetry.bearer_check(True, "allowed")
        nonce = self._core.dpop.current_nonce()
        if nonce is not None and _uses_dpop():
            # RFC 9449 §9: the next nonce, on the successful answer too; §8.2:
            # such answers "should be uncacheable".
            after_this_request(_with_nonce(nonce))
        return cast(AuthenticatedClient, g.get(CALLER_KEY))


def _uses_dpop() -> bool:
    """Whether the request presents its token with the DPoP scheme."""
    scheme = request.headers.get("Authorization", "").split(None, 1)
    return bool(scheme) and scheme[0].lower() == "dpop"


def _with_nonce(nonce: str) -> Any:
    def add(response: Response) -> Response:
        response.headers["DPoP-Nonce"] = nonce
        response.headers["Cache-Control"] = "no-store"
        return response

    return add
