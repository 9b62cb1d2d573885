"""The token endpoint: Authlib's authorization server, configured.

Authlib parses the request, authenticates the client, runs the grant and
renders the answer; this module plugs the library's rules into its hooks:

- ``query_client`` and the two client-authentication methods, which run
  bcrypt for unknown clients too and never raise on odd input;
- a client-credentials grant that treats a missing ``grant_type`` as
  ``client_credentials`` (Fides' documentation omits it), refuses scopes the
  client does not hold, and does not log the token it issues;
- an RFC 9068 JWT access-token generator signing with the app's ES256 key;
- ``handle_error_response``, routed to the library's one renderer.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING
from typing import Any
from typing import ClassVar

from authlib.integrations.flask_oauth2 import AuthorizationServer as _FlaskServer
from authlib.integrations.flask_oauth2.requests import FlaskOAuth2Payload
from authlib.integrations.flask_oauth2.requests import FlaskOAuth2Request
from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import ClientCredentialsGrant as _ClientCredentialsGrant
from authlib.oauth2.rfc6749.errors import InsecureTransportError
from authlib.oauth2.rfc6749.errors import InvalidRequestError
from authlib.oauth2.rfc6749.errors import InvalidScopeError
from authlib.oauth2.rfc6749.hooks import hooked
from authlib.oauth2.rfc6749.util import extract_basic_authorization
from authlib.oauth2.rfc9068 import JWTBearerTokenGenerator
from flask import Request
from flask import Response
from flask import request
from joserfc.jwk import KeySet
from werkzeug.datastructures import MultiDict

from . import audit
from .clients import ClientRecord
from .endpoints import IntrospectionEndpoint
from .endpoints import RevocationEndpoint
from .errors import FidesOAuthError
from .errors import TooManyAttemptsError
from .errors import render
from .errors import safe_text
from .keys import ALGORITHM
from .limits import client_key
from .scopes import is_valid_scope_name
from .scopes import parse_scope_string

if TYPE_CHECKING:
    from .state import OAuthState

__all__ = ["AuthorizationServer", "ClientCredentialsGrant", "TokenGenerator"]


class ClientCredentialsGrant(_ClientCredentialsGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS: ClassVar[list[str]] = [
        "client_secret_basic",
        "client_secret_post",
    ]

    #: Parameters that may appear once (RFC 6749 §3.2: "MUST NOT be included
    #: more than once").
    SINGLE_PARAMETERS = ("grant_type", "scope", "client_id", "client_secret")

    def validate_token_request(self) -> None:
        datalist = self.request.payload.datalist
        for name in self.SINGLE_PARAMETERS:
            if len(datalist.get(name, [])) > 1:
                raise InvalidRequestError(description=f"Repeated '{name}' parameter.")
        form = self.request.form
        basic_id, _ = _basic_credentials(self.request.headers)
        if basic_id is not None and (
            "client_secret" in form or form.get("client_id", basic_id) != basic_id
        ):
            # RFC 6749 §2.3: one authentication method per request.
            raise InvalidRequestError(
                description="Credentials both in HTTP Basic and in the form: "
                "use one method."
            )
        super().validate_token_request()

    @classmethod
    def check_token_endpoint(cls, request: Any) -> bool:
        grant_type = request.payload.grant_type
        return bool(
            grant_type in (None, cls.GRANT_TYPE)
            and request.method in cls.TOKEN_ENDPOINT_HTTP_METHODS
        )

    def validate_requested_scope(self) -> None:
        requested = parse_scope_string(self.request.payload.scope)
        if requested is None:
            return
        client: ClientRecord = self.request.client
        malformed = [name for name in requested if not is_valid_scope_name(name)]
        if malformed:
            raise InvalidScopeError(
                description="Malformed scope: " + safe_text(malformed[0], 100) + "."
            )
        beyond = sorted(set(requested) - client.scopes)
        if beyond:
            raise InvalidScopeError(
                description="The client does not hold the scopes: "
                + " ".join(beyond[:20])
                + "."
            )

    @hooked  # type: ignore[untyped-decorator]
    def create_token_response(self) -> tuple[int, dict[str, Any], list[Any]]:
        # Authlib's version logs the whole token at DEBUG; this one does not.
        token = self.generate_token(
            scope=self.request.payload.scope, include_refresh_token=False
        )
        self.save_token(token)
        client_id = self.request.client.client_id
        audit.emit(
            "token_issued",
            actor=client_id,
            target=client_id,
            scopes=token["scope"].split(),
        )
        return 200, token, self.TOKEN_RESPONSE_HEADER


class TokenGenerator(JWTBearerTokenGenerator):  # type: ignore[misc]
    """RFC 9068 access tokens (``typ: at+jwt``) signed with ES256."""

    def __init__(self, state: OAuthState) -> None:
        super().__init__(
            issuer="",  # per request: see get_extra_claims
            alg=ALGORITHM,
            expires_generator=state.config.access_token_expires_in,
        )
        self._state = state

    def get_jwks(self) -> KeySet:
        return KeySet([self._state.keys.signing_key()])

    def get_audiences(self, client: Any, user: Any, scope: Any) -> str:
        return self._state.audience()

    def get_extra_claims(
        self, client: Any, grant_type: Any, user: Any, scope: Any
    ) -> dict[str, Any]:
        # The issuer may be derived from the request, so it is set here,
        # the hook that runs per token, rather than once in the constructor.
        # "gen": the client's token generation; raising it revokes the token.
        return {"iss": self._state.issuer(), "gen": client.token_generation}

    def generate(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        token: dict[str, Any] = super().generate(*args, **kwargs)
        token.setdefault("scope", "")  # a client with no scopes: still say so
        return token


def _basic_credentials(headers: Any) -> tuple[str | None, str | None]:
    """Authlib's Basic parsing, minus its UnicodeDecodeError on odd bytes."""
    try:
        client_id, secret = extract_basic_authorization(headers)
    except (UnicodeDecodeError, ValueError):
        return None, None  # not UTF-8: no usable credentials
    return client_id, secret


def _credentials_check(
    state: OAuthState, client_id: str | None, secret: str | None
) -> ClientRecord | None:
    """Check presented credentials, within the failure limits.

    One bcrypt check whatever happens (two for a client whose rotated-out
    secret is in its grace period): unknown ids cost what wrong secrets
    cost, and the answer does not tell them apart. Over the limit (see
    :mod:`.limits` for which counters judge an attempt), nothing is checked
    and the answer is 429.
    """
    if not client_id or secret is None:
        return None
    limiter = state.limiter
    attempt = limiter.assess(client_id, request.remote_addr)
    client = state.find_client(client_id)
    # An id that names no client is audited by a fingerprint: it may be a
    # secret pasted into the wrong field, and must not reach a log.
    actor = client_id if client else "unknown:" + client_key(client_id)[:16]
    if attempt.retry_after is not None:
        audit.emit("authentication_failed", actor=actor, outcome="rate_limited")
        raise TooManyAttemptsError(attempt.retry_after)
    now = time.time()
    previous = client.previous_secret_hash_at(now) if client else None
    if client is not None:
        # Checked with bcrypt before, against a hash the client still has?
        remembered = state.credentials.matched_hash(client_id, secret)
        if remembered is not None and remembered in (client.secret_hash, previous):
            limiter.succeeded(attempt, counted=False)
            return client
    # Counted before bcrypt runs, so concurrent guesses cannot all slip in
    # under the limit; taken back below if it succeeds.
    retry_after = limiter.record(attempt.keys)
    if retry_after is not None:
        audit.emit("authentication_failed", actor=actor, outcome="rate_limited")
        raise TooManyAttemptsError(retry_after)
    if client is None:
        state.hasher.verify(secret, None)  # the same work as a wrong secret
    else:
        for stored in (client.secret_hash, previous):
            if stored is not None and state.hasher.verify(secret, stored):
                limiter.succeeded(attempt, counted=True)
                state.credentials.remember(client_id, secret, stored)
                return client
    audit.emit("authentication_failed", actor=actor, outcome="invalid_client")
    return None


def _without_empty(values: Any) -> MultiDict[str, str]:
    return MultiDict((k, v) for k, v in values.items(multi=True) if v != "")


class _Payload(FlaskOAuth2Payload):  # type: ignore[misc]
    @property
    def data(self) -> MultiDict[str, str]:
        return _without_empty(self._request.values)


class OAuthRequest(FlaskOAuth2Request):  # type: ignore[misc]
    """Authlib's request, read as RFC 6749 §3.2 says: "Parameters sent
    without a value MUST be treated as if they were omitted from the
    request." So ``grant_type=`` is no ``grant_type``, ``scope=`` no scope,
    ``client_secret=`` no secret."""

    def __init__(self, flask_request: Request) -> None:
        super().__init__(flask_request)
        self.payload = _Payload(flask_request)
        self._form = _without_empty(flask_request.form)

    @property
    def form(self) -> MultiDict[str, str]:
        return self._form


class InsecureTransportWithFixError(FidesOAuthError):
    """Authlib's ``insecure_transport``, naming the fix."""

    error = "insecure_transport"
    description = (
        "OAuth 2 requires https. Behind a TLS-terminating proxy, wrap the app in "
        "werkzeug.middleware.proxy_fix.ProxyFix so the request's scheme is "
        "https; for local plain http only, set AUTHLIB_INSECURE_TRANSPORT=1."
    )


class AuthorizationServer(_FlaskServer):  # type: ignore[misc]
    """Authlib's Flask server, bound to one app's state (not to the app)."""

    def __init__(self, state: OAuthState) -> None:
        super().__init__()
        self._state = state
        self.register_grant(ClientCredentialsGrant)
        self.register_token_generator("default", TokenGenerator(state))
        self.register_client_auth_method("client_secret_basic", self._auth_basic)
        self.register_client_auth_method("client_secret_post", self._auth_post)
        self.register_endpoint(RevocationEndpoint(self, state))
        self.register_endpoint(IntrospectionEndpoint(self, state))

    def create_oauth2_request(self, flask_request: Any) -> OAuthRequest:
        try:
            return OAuthRequest(request)
        except InsecureTransportError as exc:
            raise InsecureTransportWithFixError() from exc

    def query_client(self, client_id: str) -> ClientRecord | None:
        return self._state.find_client(client_id)

    def save_token(self, token: dict[str, Any], request: Any) -> None:
        """Nothing to store: access tokens are self-contained JWTs."""

    def handle_error_response(self, request: Any, error: OAuth2Error) -> Response:
        return render(error)

    def _auth_basic(self, query_client: Any, request: Any) -> ClientRecord | None:
        client_id, secret = _basic_credentials(request.headers)
        return _credentials_check(self._state, client_id, secret)

    def _auth_post(self, query_client: Any, request: Any) -> ClientRecord | None:
        form = request.form
        return _credentials_check(
            self._state, form.get("client_id"), form.get("client_secret")
        )
