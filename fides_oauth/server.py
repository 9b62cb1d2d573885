"""The token endpoint: Authlib's authorization server, configured.

Authlib parses the request, authenticates the client, runs the grant and
renders the answer; this module plugs the library's rules into its hooks:

- ``query_client`` and the two client-authentication methods, which run
  bcrypt for unknown clients too and never raise on odd input;
- a client-credentials grant that treats a missing ``grant_type`` as
  ``client_credentials`` (Fides' documentation omits it), refuses scopes the
  client does not hold, and does not log the token it issues;
- an RFC 9068 JWT access-token generator signing with the app's ES256 key;
- DPoP (RFC 9449 §5): a request with a valid proof gets a ``DPoP`` token
  carrying ``cnf.jkt``; a ``dpop_bound_access_tokens`` client must send one;
- ``handle_error_response``, routed to the library's one renderer.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import cached_property
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
from authlib.oauth2.rfc9068 import JWTBearerTokenGenerator
from flask import Request
from flask import Response
from flask import request
from joserfc.jwk import KeySet
from werkzeug.datastructures import MultiDict

from .client_auth import METHOD_NAMES
from .client_auth import METHODS
from .client_auth import basic_credentials
from .client_auth import check_assertion_credentials
from .client_auth import check_credentials
from .client_metadata import KEY_METHOD
from .clients import ClientRecord
from .core import Core
from .dpop import TOKEN_TYPE
from .dpop import Proof
from .endpoints import IntrospectionEndpoint
from .endpoints import RevocationEndpoint
from .errors import FidesOAuthError
from .errors import InvalidDPoPProofError
from .errors import safe_text
from .issuer import IssuerRule
from .keys import ALGORITHM
from .responses import render
from .scopes import is_valid_scope_name
from .scopes import parse_scope_string

__all__ = ["AuthorizationServer", "ClientCredentialsGrant", "TokenGenerator"]

#: The DPoP key thumbprint the token being generated is bound to. Authlib's
#: generator hooks receive the client, not the request, so the grant sets it
#: around the call (:func:`_bound_to`).
_BINDING: ContextVar[str | None] = ContextVar("fides_oauth_binding", default=None)


@contextmanager
def _bound_to(jkt: str | None) -> Iterator[None]:
    reset = _BINDING.set(jkt)
    try:
        yield
    finally:
        _BINDING.reset(reset)


class ClientCredentialsGrant(_ClientCredentialsGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS: ClassVar[list[str]] = list(METHOD_NAMES)

    #: Parameters that may appear once (RFC 6749 §3.2: "MUST NOT be included
    #: more than once").
    SINGLE_PARAMETERS = (
        "grant_type",
        "scope",
        "client_id",
        "client_secret",
        "client_assertion",
        "client_assertion_type",
    )

    #: The request's DPoP proof, checked before the client is authenticated
    #: and claimed after (so only an authenticated client writes).
    proof: Proof | None = None

    def validate_token_request(self) -> None:
        datalist = self.request.payload.datalist
        for name in self.SINGLE_PARAMETERS:
            if len(datalist.get(name, [])) > 1:
                raise InvalidRequestError(description=f"Repeated '{name}' parameter.")
        form = self.request.form
        basic_id, _ = basic_credentials(self.request.headers)
        if basic_id is not None and (
            "client_secret" in form or form.get("client_id", basic_id) != basic_id
        ):
            # RFC 6749 §2.3: one authentication method per request.
            raise InvalidRequestError(
                description="Credentials both in HTTP Basic and in the form: "
                "use one method."
            )
        dpop = self.server.core.dpop
        values = request.headers.getlist("DPoP")
        if values:
            self.proof = dpop.check(
                values, request.method, self.server.issuer.request_url()
            )
        super().validate_token_request()
        if self.proof is not None:
            dpop.claim(self.proof)
        elif self.request.client.dpop_bound_access_tokens:
            # RFC 9449 §5.2: "the authorization server MUST reject token
            # requests from the client that do not contain the DPoP header."
            raise InvalidDPoPProofError(
                "This client's tokens are DPoP-bound: send a DPoP proof.",
                nonce=dpop.current_nonce(),
            )

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
        jkt = self.proof.jkt if self.proof is not None else None
        with _bound_to(jkt):
            token = self.generate_token(
                scope=self.request.payload.scope, include_refresh_token=False
            )
        headers = list(self.TOKEN_RESPONSE_HEADER)
        if jkt is not None:
            token["token_type"] = TOKEN_TYPE  # RFC 9449 §5
            nonce = self.server.core.dpop.current_nonce()
            if nonce is not None:  # RFC 9449 §8.2: the next nonce, up front
                headers.append(("DPoP-Nonce", nonce))
        self.save_token(token)
        client: ClientRecord = self.request.client
        client_id = client.client_id
        if not client.is_root:  # the root lives in configuration, not a row
            self.server.core.usage.used(client_id)
        self.server.core.audit(
            "token_issued",
            actor=client_id,
            target=client_id,
            scopes=token["scope"].split(),
        )
        return 200, token, headers


class TokenGenerator(JWTBearerTokenGenerator):  # type: ignore[misc]
    """RFC 9068 access tokens (``typ: at+jwt``) signed with ES256."""

    def __init__(self, core: Core, issuer: IssuerRule) -> None:
        super().__init__(
            issuer="",  # per request: see get_extra_claims
            alg=ALGORITHM,
            expires_generator=self._lifetime,
        )
        self._default_lifetime = core.config.access_token_expires_in
        self._keys = core.keys
        self._clock = core.clock
        self._issuer = issuer

    def _lifetime(self, client: ClientRecord, grant_type: str) -> int:
        """The client's own token lifetime (CONTRACT §7), else the app's."""
        return client.token_lifetime(self._default_lifetime)

    def get_jwks(self) -> KeySet:
        return KeySet([self._keys.signing_key()])

    def get_jti(self, client: Any, grant_type: Any, user: Any, scope: Any) -> str:
        """128 random bits from :mod:`secrets` in one call (Authlib's default
        draws 16 characters one by one: a tenth of a warm grant)."""
        return secrets.token_urlsafe(16)

    def get_audiences(self, client: Any, user: Any, scope: Any) -> str:
        return self._issuer.audience()

    def get_extra_claims(
        self, client: Any, grant_type: Any, user: Any, scope: Any
    ) -> dict[str, Any]:
        # The issuer may be derived from the request, so it is set here,
        # the hook that runs per token, rather than once in the constructor.
        # "gen": the client's token generation; raising it revokes the token.
        # "iat"/"exp" by the app's clock, the one verification uses.
        now = int(self._clock())
        claims: dict[str, Any] = {
            "iss": self._issuer(),
            "gen": client.token_generation,
            "iat": now,
            "exp": now + self._get_expires_in(client, grant_type),
        }
        jkt = _BINDING.get()
        if jkt is not None:  # RFC 9449 §6.1: bound to the proof's key
            claims["cnf"] = {"jkt": jkt}
        return claims

    def generate(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        token: dict[str, Any] = super().generate(*args, **kwargs)
        token.setdefault("scope", "")  # a client with no scopes: still say so
        return token


def _without_empty(values: Any) -> MultiDict[str, str]:
    return MultiDict((k, v) for k, v in values.items(multi=True) if v != "")


class _Payload(FlaskOAuth2Payload):  # type: ignore[misc]
    @cached_property
    def data(self) -> MultiDict[str, str]:
        # Authlib reads it once per parameter: filter the body once.
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
    """Authlib's Flask server on one app's services (not on the app)."""

    def __init__(self, core: Core, issuer: IssuerRule) -> None:
        super().__init__()
        self.core = core
        self.register_grant(ClientCredentialsGrant)
        self.register_token_generator("default", TokenGenerator(core, issuer))
        for name, read in METHODS.items():
            self.register_client_auth_method(name, self._method(read))
        self.issuer = issuer
        self.register_client_auth_method(KEY_METHOD, self._assertion_method)
        self.register_endpoint(RevocationEndpoint(self, core, issuer))
        self.register_endpoint(IntrospectionEndpoint(self, core, issuer))

    def create_oauth2_request(self, flask_request: Any) -> OAuthRequest:
        try:
            return OAuthRequest(request)
        except InsecureTransportError as exc:
            raise InsecureTransportWithFixError() from exc

    def query_client(self, client_id: str) -> ClientRecord | None:
        return self.core.store.find_client(client_id)

    def save_token(self, token: dict[str, Any], request: Any) -> None:
        """Nothing to store: access tokens are self-contained JWTs."""

    def handle_error_response(self, request: Any, error: OAuth2Error) -> Response:
        return render(error)

    def _assertion_method(
        self, query_client: Any, oauth_request: Any
    ) -> ClientRecord | None:
        return check_assertion_credentials(
            self.core, oauth_request.form, request.remote_addr, self.issuer()
        )

    def _method(self, read: Any) -> Any:
        """An Authlib client-authentication method: read the credentials the
        method's way, check them with the request's address."""

        def authenticate(query_client: Any, oauth_request: Any) -> ClientRecord | None:
            client_id, secret = read(oauth_request.headers, oauth_request.form)
            return check_credentials(self.core, client_id, secret, request.remote_addr)

        return authenticate
