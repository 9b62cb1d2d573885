"""The ``FIDES_OAUTH_*`` configuration keys: defaults and validation.

Read once, when the blueprint is registered on an app; every key is checked
then, so a misconfigured app fails at start-up with a message that says
which key to fix, never on its first request.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from typing import NamedTuple

from .hashing import BCRYPT_MAX_BYTES
from .sealing import KEK_MIN_LENGTH
from .settings import SETTINGS
from .settings import Setting

__all__ = [
    "DEFAULTS",
    "ROOT_SECRET_MIN_LENGTH",
    "SETTINGS",
    "OAuthConfig",
    "Secrets",
    "Setting",
    "load_config",
]


#: Every key with its default (``None``: no default).
DEFAULTS: Mapping[str, Any] = {setting.key: setting.default for setting in SETTINGS}

ROOT_SECRET_MIN_LENGTH = 16
_MAX_ID_LENGTH = 255


@dataclass(frozen=True)
class OAuthConfig:
    """The validated configuration of one app. No secret is kept here but
    ``storage_uri``, which may carry a Redis password: the repr hides it."""

    root_client_id: str
    access_token_expires_in: int  # seconds
    bcrypt_rounds: int
    signing_key_pem: str | None
    issuer: str | None
    audience: str | None
    max_body_bytes: int
    auth_failure_limit: int
    auth_failure_window: int  # seconds
    max_rotation_grace: int  # seconds
    trusted_source_seconds: int = 30 * 86400
    #: May carry a password: never shown in the repr.
    storage_uri: str | None = None
    jwks_uri_allow_loopback: bool = False
    legacy_assertion_audience: bool = False
    server_metadata: bool = True
    token_cache_size: int = 10_000
    #: "strict" or "push" (see :mod:`.invalidation`).
    invalidation: str = "strict"
    max_staleness: float = 1.0  # seconds
    credential_cache_size: int = 1_024
    dpop_proof_max_age: int = 60  # seconds
    dpop_require_nonce: bool = False
    dpop_nonce_seconds: int = 300
    admin: bool = False
    audit_retention: int = 90 * 86400  # seconds; 0: for ever

    def __repr__(self) -> str:
        # The signing key is a secret: never show it.
        return (
            f"OAuthConfig(root_client_id={self.root_client_id!r}, "
            f"access_token_expires_in={self.access_token_expires_in}, "
            f"bcrypt_rounds={self.bcrypt_rounds}, "
            f"signing_key={'<configured>' if self.signing_key_pem else None}, "
            f"issuer={self.issuer!r}, audience={self.audience!r}, "
            f"max_body_bytes={self.max_body_bytes}, "
            f"auth_failure_limit={self.auth_failure_limit}, "
            f"auth_failure_window={self.auth_failure_window}, "
            f"max_rotation_grace={self.max_rotation_grace})"
        )


def _get(config: Mapping[str, Any], key: str) -> Any:
    return config.get(key, DEFAULTS[key])


def _required_str(config: Mapping[str, Any], key: str, what: str) -> str:
    value = _get(config, key)
    if value is None or value == "":
        raise RuntimeError(
            f"{key} is not set. Set app.config[{key!r}] to the {what} "
            "before registering the fides_oauth blueprint."
        )
    if not isinstance(value, str):
        raise RuntimeError(f"{key} must be a string, not {type(value).__name__}.")
    return value


def _int(config: Mapping[str, Any], key: str, low: int, high: int) -> int:
    value = _get(config, key)
    if isinstance(value, bool) or not isinstance(value, int):
        raise RuntimeError(
            f"{key} must be an integer from {low} to {high}, "
            f"not {type(value).__name__}."
        )
    if not low <= value <= high:
        raise RuntimeError(f"{key} must be from {low} to {high}; it is {value}.")
    return value


def _bool(config: Mapping[str, Any], key: str) -> bool:
    value = _get(config, key)
    if not isinstance(value, bool):
        raise RuntimeError(f"{key} must be True or False.")
    return value


def _optional_str(config: Mapping[str, Any], key: str) -> str | None:
    value = _get(config, key)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise RuntimeError(f"{key} must be a non-empty string or None.")
    return value


class Secrets(NamedTuple):
    """The configured secrets, kept apart from :class:`OAuthConfig` so the
    caller can use them once (hash, derive) and let them go."""

    root_secret: str
    #: First seals, all open; empty when a signing key is configured.
    key_encryption_keys: tuple[str, ...]

    def __repr__(self) -> str:
        return f"Secrets(<root secret>, <{len(self.key_encryption_keys)} KEKs>)"


_GENERATE = "`python -c 'import secrets; print(secrets.token_urlsafe(32))'`"


def _key_encryption_keys(config: Mapping[str, Any]) -> tuple[str, ...]:
    key = "FIDES_OAUTH_KEY_ENCRYPTION_KEY"
    value = _get(config, key)
    if value is None:
        if _get(config, "FIDES_OAUTH_SIGNING_KEY") is not None:
            return ()  # no key is generated, so none is stored
        raise RuntimeError(
            f"{key} is not set. The signing keys the library generates are "
            "stored encrypted under it: set it to a random value, the same for "
            f"every worker and host (e.g. the output of {_GENERATE}), or set "
            "FIDES_OAUTH_SIGNING_KEY to a PEM of your own."
        )
    values = [value] if isinstance(value, str) else value
    if (
        not isinstance(values, (list, tuple))
        or not values
        or not all(isinstance(v, str) and len(v) >= KEK_MIN_LENGTH for v in values)
    ):
        raise RuntimeError(
            f"{key} must be a random string of at least {KEK_MIN_LENGTH} "
            "characters, or a list of them (the first seals; all open, for "
            f"rotation). Generate one with {_GENERATE}."
        )
    return tuple(values)


_STORAGE_SCHEMES = ("redis://", "rediss://", "unix://")


def _storage_uri(config: Mapping[str, Any]) -> str | None:
    value = _optional_str(config, "FIDES_OAUTH_STORAGE_URI")
    if value is not None and not value.startswith(_STORAGE_SCHEMES):
        raise RuntimeError(
            "FIDES_OAUTH_STORAGE_URI must be unset (the SQL database) or a Redis "
            "URL: redis://host:6379/0, rediss://... or unix://..."
        )
    return value


def _invalidation(config: Mapping[str, Any]) -> str:
    value = _get(config, "FIDES_OAUTH_INVALIDATION")
    if value not in ("strict", "push"):
        raise RuntimeError(
            'FIDES_OAUTH_INVALIDATION must be "strict" (the change counter read '
            'on every protected request) or "push" (changes pushed to every '
            "process, the counter re-read at least every "
            "FIDES_OAUTH_MAX_STALENESS_MS)."
        )
    return str(value)


def _assertion_audience(config: Mapping[str, Any]) -> bool:
    value = _get(config, "FIDES_OAUTH_CLIENT_ASSERTION_AUDIENCE")
    if value not in ("strict", "legacy"):
        raise RuntimeError(
            'FIDES_OAUTH_CLIENT_ASSERTION_AUDIENCE must be "strict" (the issuer '
            'alone, RFC 10070) or "legacy".'
        )
    return bool(value == "legacy")


def load_config(config: Mapping[str, Any]) -> tuple[OAuthConfig, Secrets]:
    """Validate an app's configuration.

    Returns the validated settings and, separately, the secrets, so that
    the caller can hash or derive from them and let the plaintext go.
    """
    root_id = _required_str(
        config, "FIDES_OAUTH_ROOT_CLIENT_ID", "id of the root client"
    )
    if len(root_id) > _MAX_ID_LENGTH or not root_id.isprintable():
        raise RuntimeError(
            "FIDES_OAUTH_ROOT_CLIENT_ID must be at most "
            f"{_MAX_ID_LENGTH} printable characters."
        )
    root_secret = _required_str(
        config, "FIDES_OAUTH_ROOT_CLIENT_SECRET", "secret of the root client"
    )
    if len(root_secret) < ROOT_SECRET_MIN_LENGTH:
        raise RuntimeError(
            "FIDES_OAUTH_ROOT_CLIENT_SECRET is too short: use at least "
            f"{ROOT_SECRET_MIN_LENGTH} characters (e.g. the output of "
            "`python -c 'import secrets; print(secrets.token_urlsafe(32))'`)."
        )
    if len(root_secret.encode("utf-8", "surrogatepass")) > BCRYPT_MAX_BYTES:
        raise RuntimeError(
            "FIDES_OAUTH_ROOT_CLIENT_SECRET is too long: bcrypt reads at most "
            f"{BCRYPT_MAX_BYTES} bytes; use a shorter secret."
        )
    settings = OAuthConfig(
        root_client_id=root_id,
        access_token_expires_in=60
        * _int(config, "FIDES_OAUTH_ACCESS_TOKEN_EXPIRE_MINUTES", 1, 60 * 24 * 365),
        bcrypt_rounds=_int(config, "FIDES_OAUTH_BCRYPT_ROUNDS", 4, 31),
        signing_key_pem=_optional_str(config, "FIDES_OAUTH_SIGNING_KEY"),
        issuer=_optional_str(config, "FIDES_OAUTH_ISSUER"),
        audience=_optional_str(config, "FIDES_OAUTH_AUDIENCE"),
        max_body_bytes=_int(config, "FIDES_OAUTH_MAX_BODY_BYTES", 1024, 2**31),
        auth_failure_limit=_int(config, "FIDES_OAUTH_AUTH_FAILURE_LIMIT", 1, 10**6),
        auth_failure_window=_int(
            config, "FIDES_OAUTH_AUTH_FAILURE_WINDOW_SECONDS", 1, 86400
        ),
        max_rotation_grace=_int(
            config, "FIDES_OAUTH_MAX_ROTATION_GRACE_SECONDS", 0, 30 * 86400
        ),
        trusted_source_seconds=86400
        * _int(config, "FIDES_OAUTH_TRUSTED_SOURCE_DAYS", 0, 3650),
        storage_uri=_storage_uri(config),
        jwks_uri_allow_loopback=_bool(
            config, "FIDES_OAUTH_JWKS_URI_ALLOW_LOOPBACK_HTTP"
        ),
        legacy_assertion_audience=_assertion_audience(config),
        server_metadata=_bool(config, "FIDES_OAUTH_SERVER_METADATA"),
        token_cache_size=_int(config, "FIDES_OAUTH_TOKEN_CACHE_SIZE", 0, 10**7),
        invalidation=_invalidation(config),
        max_staleness=_int(config, "FIDES_OAUTH_MAX_STALENESS_MS", 10, 600_000) / 1000,
        credential_cache_size=_int(
            config, "FIDES_OAUTH_CREDENTIAL_CACHE_SIZE", 0, 10**6
        ),
        dpop_proof_max_age=_int(config, "FIDES_OAUTH_DPOP_PROOF_MAX_AGE", 1, 3600),
        dpop_require_nonce=_bool(config, "FIDES_OAUTH_DPOP_REQUIRE_NONCE"),
        dpop_nonce_seconds=_int(config, "FIDES_OAUTH_DPOP_NONCE_SECONDS", 10, 86400),
        admin=_bool(config, "FIDES_OAUTH_ADMIN"),
        audit_retention=86400
        * _int(config, "FIDES_OAUTH_AUDIT_RETENTION_DAYS", 0, 36500),
    )
    return settings, Secrets(root_secret, _key_encryption_keys(config))
