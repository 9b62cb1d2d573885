"""Every ``FIDES_OAUTH_*`` key the library reads: its default, what it means,
and when it must be set. :mod:`.config` reads and validates them; the docs'
configuration reference is generated from here, so the two cannot drift."""

from __future__ import annotations

from typing import Any
from typing import NamedTuple

__all__ = ["SETTINGS", "Setting"]


class Setting(NamedTuple):
    """One ``FIDES_OAUTH_*`` key: its default, what it means (the docs'
    configuration reference is generated from these), and when it must be
    set (``None``: never; ``"always"``; or the condition)."""

    key: str
    default: Any
    doc: str
    required: str | None = None


#: Every key the library reads, in the order the reference lists them.
SETTINGS: tuple[Setting, ...] = (
    Setting(
        "FIDES_OAUTH_ROOT_CLIENT_ID",
        None,
        "the root client's id (printable, at most 255 characters)",
        required="always",
    ),
    Setting(
        "FIDES_OAUTH_ROOT_CLIENT_SECRET",
        None,
        (
            "the root client's secret: at least 16 characters, at most 72 bytes. "
            "Hashed with bcrypt at start-up; the library keeps only the hash"
        ),
        required="always",
    ),
    Setting(
        "FIDES_OAUTH_ACCESS_TOKEN_EXPIRE_MINUTES",
        60,
        "access-token lifetime",
    ),
    Setting(
        "FIDES_OAUTH_BCRYPT_ROUNDS",
        12,
        "bcrypt cost of stored secrets (4 to 31)",
    ),
    Setting(
        "FIDES_OAUTH_SIGNING_KEY",
        None,
        (
            "PEM of an EC P-256 private key that signs tokens. Unset: a key is "
            "generated on first use and kept, sealed, in "
            "`fides_oauth_signing_keys`, shared by every worker and restart"
        ),
    ),
    Setting(
        "FIDES_OAUTH_KEY_ENCRYPTION_KEY",
        None,
        (
            "key-encryption key that seals stored signing keys (AES-256-GCM): a "
            "random string of at least 32 characters (`python -c 'import secrets; "
            "print(secrets.token_urlsafe(32))'`), the same on every worker and "
            "host, or a list — the first seals, every one opens (rotation). Unset, "
            "start-up fails with a message saying so"
        ),
        required="unless `FIDES_OAUTH_SIGNING_KEY` is set",
    ),
    Setting(
        "FIDES_OAUTH_ISSUER",
        None,
        (
            "the tokens' `iss`. Unset: the request's root URL plus the blueprint "
            "prefix (`http://localhost/api/v1`) — see Deploying for the trade-off"
        ),
    ),
    Setting(
        "FIDES_OAUTH_AUDIENCE",
        None,
        "the tokens' `aud`. Unset: the issuer",
    ),
    Setting(
        "FIDES_OAUTH_MAX_BODY_BYTES",
        65536,
        "largest request body the blueprint's routes read (413 beyond)",
    ),
    Setting(
        "FIDES_OAUTH_AUTH_FAILURE_LIMIT",
        10,
        (
            "failed client authentications per client id, and per remote address "
            "(per id and address pair from a known source), within the window "
            "before the token, revocation and introspection endpoints answer 429"
        ),
    ),
    Setting(
        "FIDES_OAUTH_AUTH_FAILURE_WINDOW_SECONDS",
        60,
        "that window; it opens with the first failure",
    ),
    Setting(
        "FIDES_OAUTH_TRUSTED_SOURCE_DAYS",
        30,
        (
            "how long a client id and address pair that authenticated successfully "
            "stays a known source (0: no known sources; see Security model)"
        ),
    ),
    Setting(
        "FIDES_OAUTH_TOKEN_CACHE_SIZE",
        10000,
        (
            "verified tokens each process remembers (least recently used evicted; 0 "
            "turns it off)"
        ),
    ),
    Setting(
        "FIDES_OAUTH_INVALIDATION",
        "strict",
        (
            "how a process learns that a change (scope cut, deletion, rotation, "
            "revocation) invalidates tokens it verified before. `strict`: it reads "
            "the change counter on every protected request, so every change is "
            "honoured on the next request. `push`: changes are pushed to every "
            "process (PostgreSQL `LISTEN/NOTIFY` through psycopg 3, or Redis "
            "pub/sub with the Redis store) and the counter is re-read at least every "
            "`FIDES_OAUTH_MAX_STALENESS_MS`; a verified token can then pass for up "
            "to that long after a change when notices are lost (see Performance)"
        ),
    ),
    Setting(
        "FIDES_OAUTH_MAX_STALENESS_MS",
        1000,
        (
            "with `push` invalidation, the longest a process trusts a change "
            "counter it has not re-read (10 to 600000): the worst-case delay "
            "before a change reaches tokens already verified"
        ),
    ),
    Setting(
        "FIDES_OAUTH_CREDENTIAL_CACHE_SIZE",
        1024,
        "credentials each process remembers after one bcrypt check (0 turns it off)",
    ),
    Setting(
        "FIDES_OAUTH_JWKS_URI_ALLOW_LOOPBACK_HTTP",
        False,
        "allow `http://127.0.0.1…` as a client's `jwks_uri` (tests only)",
    ),
    Setting(
        "FIDES_OAUTH_CLIENT_ASSERTION_AUDIENCE",
        "strict",
        (
            "`private_key_jwt` assertions' `aud`: the issuer as one string (RFC "
            '10070); `"legacy"` also accepts the token endpoint URL or a '
            "one-element array"
        ),
    ),
    Setting(
        "FIDES_OAUTH_STORAGE_URI",
        None,
        (
            "where the ephemeral shared state lives (failure counters, known "
            "sources, the single-use `jti`s of client assertions and DPoP proofs): "
            "unset, the SQL database; `redis://host:6379/0` (or `rediss://`, "
            "`unix://`), a Redis server, with `pip install 'fides-oauth[redis]'`. "
            "Either way every worker and host shares it"
        ),
    ),
    Setting(
        "FIDES_OAUTH_SERVER_METADATA",
        True,
        (
            "serve RFC 8414 metadata at the URL its issuer derives: "
            "`/.well-known/oauth-authorization-server/api/v1` for the default "
            "issuer under `/api/v1`; the root form only for an issuer without a "
            "path"
        ),
    ),
    Setting(
        "FIDES_OAUTH_MAX_ROTATION_GRACE_SECONDS",
        86400,
        "the longest `grace_seconds` a rotation may ask for (422 beyond)",
    ),
    Setting(
        "FIDES_OAUTH_ADMIN",
        False,
        (
            "serve the admin page at `<prefix>/oauth/admin/` (see Admin page); off, "
            "every path under it is 404"
        ),
    ),
    Setting(
        "FIDES_OAUTH_AUDIT_RETENTION_DAYS",
        90,
        (
            "days the persisted audit events are kept; `flask fides-oauth prune` "
            "deletes older ones (0: kept for ever)"
        ),
    ),
    Setting(
        "FIDES_OAUTH_DPOP_PROOF_MAX_AGE",
        60,
        (
            "how far a DPoP proof's `iat` may be from the server's time, either "
            "side, in seconds (1 to 3600); a proof's `jti` is remembered that long"
        ),
    ),
    Setting(
        "FIDES_OAUTH_DPOP_REQUIRE_NONCE",
        False,
        (
            "every DPoP proof must carry a server nonce (RFC 9449 §8, §9): `400 "
            "use_dpop_nonce` at the token endpoint, `401` with "
            '`error="use_dpop_nonce"` on a route, both with a `DPoP-Nonce` header'
        ),
    ),
    Setting(
        "FIDES_OAUTH_DPOP_NONCE_SECONDS",
        300,
        (
            "a nonce's time step (10 to 86400): a nonce is accepted in its step and "
            "the next"
        ),
    ),
)
