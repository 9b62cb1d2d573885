"""Error classes and their one JSON rendering.

Every error the library answers with is an Authlib ``OAuth2Error``: Authlib's
own (``invalid_client``, ``invalid_scope``, ``invalid_token``, ...) and the
subclasses below for the management API. :func:`fides_oauth.responses.render`
turns any of them into the RFC 6749 §5.2 / RFC 6750 body,
``{"error": ..., "error_description": ...}`` plus any extra fields. Nothing
here imports Flask.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from collections.abc import Sequence
from typing import Any

from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749.errors import MissingAuthorizationError
from authlib.oauth2.rfc6750.errors import InsufficientScopeError

__all__ = [
    "BadRequestBodyError",
    "ConflictError",
    "DPoPChallengeError",
    "FidesOAuthError",
    "ForbiddenScopesError",
    "InsufficientScopeWithHintError",
    "InvalidDPoPProofError",
    "MethodNotAllowedError",
    "MissingBearerError",
    "NotFormEncodedError",
    "NotFoundError",
    "PayloadTooLargeError",
    "TemporarilyUnavailableError",
    "TooManyAttemptsError",
    "UnknownScopesError",
    "UnprocessableError",
    "UnsupportedMediaTypeError",
    "UseDPoPNonceError",
    "safe_text",
]

#: WWW-Authenticate realm of the bearer challenge.
REALM = "fides_oauth"
_LISTED_MAX = 20
_NAME_SHOWN_MAX = 100


#: Text that :func:`safe_text` leaves as it is.
_PLAIN = re.compile(r"[\x20\x21\x23-\x5b\x5d-\x7e]*")


def safe_text(text: str, limit: int = 500) -> str:
    """Text that may stand in an error description (RFC 6749 §5.2).

    Descriptions echo request values (an unknown scope, a field name);
    characters outside %x20-21 / %x23-5B / %x5D-7E become "?", so a
    hostile value can neither break the header it is quoted in nor make
    Authlib refuse the description.
    """
    if _PLAIN.fullmatch(text):  # the usual case (a client id), no copy
        cleaned = text
    else:
        cleaned = "".join(
            ch if (0x20 <= ord(ch) <= 0x7E and ch not in '"\\') else "?" for ch in text
        )
    return cleaned if len(cleaned) <= limit else cleaned[: limit - 3] + "..."


def _listed(names: Sequence[str]) -> list[str]:
    shown = [safe_text(str(name), _NAME_SHOWN_MAX) for name in names[:_LISTED_MAX]]
    if len(names) > _LISTED_MAX:
        shown.append(f"... and {len(names) - _LISTED_MAX} more")
    return shown


class FidesOAuthError(OAuth2Error):  # type: ignore[misc]
    """Base of the library's own errors; may carry extra body fields."""

    error = "invalid_request"
    status_code = 400

    def __init__(
        self,
        description: str | None = None,
        *,
        status_code: int | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(
            description=safe_text(description) if description else None,
            status_code=status_code,
        )
        self.extra = extra or {}

    def get_body(self) -> list[tuple[str, Any]]:
        body: list[tuple[str, Any]] = super().get_body()
        body.extend(self.extra.items())
        return body


class BadRequestBodyError(FidesOAuthError):
    """The body is not JSON at all (400)."""

    description = "The request body is not valid JSON."


class UnsupportedMediaTypeError(FidesOAuthError):
    status_code = 415
    description = "The request body must be JSON (Content-Type: application/json)."


class NotFormEncodedError(FidesOAuthError):
    """A body the token, revocation or introspection endpoint cannot read:
    they take form parameters only (400 invalid_request). Said plainly, as a
    JSON body would otherwise look like missing credentials."""

    def __init__(self, sent: str) -> None:
        super().__init__(
            "This endpoint takes its parameters as application/x-www-form-"
            "urlencoded (RFC 6749 section 4.4.2), not "
            f"{sent or 'a body without a Content-Type'}."
        )


class PayloadTooLargeError(FidesOAuthError):
    status_code = 413
    description = "The request body is larger than this server accepts."


class UnprocessableError(FidesOAuthError):
    """JSON of the wrong shape or types (422)."""

    status_code = 422


class UnknownScopesError(FidesOAuthError):
    """Scopes that are not in the registry (422), named in the answer."""

    error = "invalid_scope"
    status_code = 422

    def __init__(self, unknown: Sequence[str]) -> None:
        shown = _listed(unknown)
        super().__init__(
            "Unknown scopes: " + ", ".join(shown) + ". GET /oauth/scope lists "
            "the registered ones.",
            extra={"unknown_scopes": shown},
        )


class ForbiddenScopesError(FidesOAuthError):
    """Granting or touching scopes the caller does not hold itself (403)."""

    error = "insufficient_scope"
    status_code = 403

    def __init__(self, missing: Sequence[str], action: str) -> None:
        shown = _listed(missing)
        super().__init__(
            f"The caller cannot {action}: it does not hold the scopes "
            + ", ".join(shown)
            + ".",
            extra={"missing_scopes": shown},
        )


class NotFoundError(FidesOAuthError):
    error = "not_found"
    status_code = 404
    description = "No such client."

    def __init__(self, description: str | None = None) -> None:
        super().__init__(description)


class ConflictError(FidesOAuthError):
    """The client changed while the request was judged against it (409)."""

    error = "conflict"
    status_code = 409
    description = "The client changed while this request ran; read it again and retry."


class TemporarilyUnavailableError(FidesOAuthError):
    """The database failed mid-request; the transaction was rolled back."""

    error = "temporarily_unavailable"
    status_code = 503
    description = "The authorization server's storage is unavailable; retry later."
    #: Seconds a client should wait before retrying (RFC 9110 §10.2.3).
    retry_after = 5

    def get_headers(self) -> list[tuple[str, str]]:
        headers: list[tuple[str, str]] = super().get_headers()
        headers.append(("Retry-After", str(self.retry_after)))
        return headers


class TooManyAttemptsError(FidesOAuthError):
    """Too many failed authentications for a client id or an address (429)."""

    error = "too_many_requests"
    status_code = 429

    def __init__(self, retry_after: int) -> None:
        self.retry_after = retry_after
        super().__init__(
            f"Too many failed authentications; retry in {retry_after} seconds."
        )

    def get_headers(self) -> list[tuple[str, str]]:
        headers: list[tuple[str, str]] = super().get_headers()
        headers.append(("Retry-After", str(self.retry_after)))
        return headers


class MethodNotAllowedError(FidesOAuthError):
    error = "method_not_allowed"
    status_code = 405

    def __init__(self, allowed: Iterable[str]) -> None:
        self.allowed = sorted(allowed)
        super().__init__("This route answers " + ", ".join(self.allowed) + " only.")

    def get_headers(self) -> list[tuple[str, str]]:
        headers: list[tuple[str, str]] = super().get_headers()
        headers.append(("Allow", ", ".join(self.allowed)))
        return headers


class MissingBearerError(MissingAuthorizationError):  # type: ignore[misc]
    """No credentials at all: RFC 6750 §3.1 says to challenge without an
    error code in the header. Every protected route takes a bearer token or
    a DPoP-bound one, so both challenges are sent (RFC 9449 §7.2), the DPoP
    one with the algorithms a proof may use."""

    description = (
        "This route needs an 'Authorization: Bearer <token>' header, or "
        "'Authorization: DPoP <token>' with a DPoP proof."
    )

    def __init__(self, dpop_algorithms: Sequence[str] = ()) -> None:
        super().__init__()
        self.dpop_algorithms = list(dpop_algorithms)

    def get_headers(self) -> list[tuple[str, str]]:
        headers: list[tuple[str, str]] = OAuth2Error.get_headers(self)
        challenge = f'Bearer realm="{REALM}"'
        if self.dpop_algorithms:
            challenge += f', DPoP algs="{" ".join(self.dpop_algorithms)}"'
        headers.append(("WWW-Authenticate", challenge))
        return headers


class InsufficientScopeWithHintError(InsufficientScopeError):  # type: ignore[misc]
    """403 that names, as RFC 6750 §3 suggests, the scopes the route needs."""

    def __init__(self, required: Sequence[str]) -> None:
        self.required = list(required)
        super().__init__(
            description="The token does not carry the scopes this route needs: "
            + " ".join(self.required)
            + "."
        )

    def get_headers(self) -> list[tuple[str, str]]:
        headers: list[tuple[str, str]] = super().get_headers()
        headers.append(
            (
                "WWW-Authenticate",
                f'Bearer realm="{REALM}", error="insufficient_scope", '
                f'scope="{" ".join(self.required)}"',
            )
        )
        return headers


class InvalidDPoPProofError(FidesOAuthError):
    """A DPoP proof was refused (RFC 9449 §5): 400 at the token endpoint; a
    protected route answers 401 through :class:`DPoPChallengeError`. When
    the app requires nonces, the answer carries a fresh ``DPoP-Nonce``."""

    error = "invalid_dpop_proof"
    description = "The DPoP proof is invalid."

    def __init__(self, description: str | None = None, *, nonce: str | None = None):
        super().__init__(description)
        self.nonce = nonce

    def get_headers(self) -> list[tuple[str, str]]:
        headers: list[tuple[str, str]] = super().get_headers()
        if self.nonce:
            headers.append(("DPoP-Nonce", self.nonce))
            headers.append(("Cache-Control", "no-store"))
        return headers


class UseDPoPNonceError(InvalidDPoPProofError):
    """The proof lacks a nonce this app issued (RFC 9449 §8, §9)."""

    error = "use_dpop_nonce"
    description = "Sign the proof again with the nonce in the DPoP-Nonce header."


class DPoPChallengeError(FidesOAuthError):
    """A protected route refusing a request made with the DPoP scheme (RFC
    9449 §7.1): 401 (403 for missing scopes), the JSON body of every other
    error, and a ``DPoP`` challenge naming the error and the algorithms a
    proof may use."""

    def __init__(self, cause: OAuth2Error, algorithms: Sequence[str]) -> None:
        self.error = cause.error
        self.cause = cause
        super().__init__(
            cause.description or cause.get_error_description(),
            status_code=403 if cause.error == "insufficient_scope" else 401,
        )
        self.algorithms = list(algorithms)

    def get_headers(self) -> list[tuple[str, str]]:
        headers: list[tuple[str, str]] = OAuth2Error.get_headers(self)
        params = [f'error="{self.error}"']
        if self.description:
            params.append(f'error_description="{self.description}"')
        required = getattr(self.cause, "required", None)
        if required:
            params.append(f'scope="{" ".join(required)}"')
        params.append(f'algs="{" ".join(self.algorithms)}"')
        headers.append(("WWW-Authenticate", "DPoP " + ", ".join(params)))
        nonce = getattr(self.cause, "nonce", None)
        if nonce:
            headers.append(("DPoP-Nonce", nonce))
            headers.append(("Cache-Control", "no-store"))
        return headers
