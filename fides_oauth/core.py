"""The library's services for one app, without Flask: built once, in one
step, when the blueprint is registered, and never changed afterwards.

Everything here can be built and used with no Flask app — the management
use cases, the credential check, token verification given an issuer value —
which is how ``tests/test_management.py`` and ``tests/test_client_auth.py``
exercise them. The Flask layer (:mod:`.state`) holds a :class:`Core` next
to the Authlib server and protector that use it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from joserfc.jwk import ECKey
from sqlalchemy.orm import Session

from .admin_sessions import AdminSessions
from .audit_trail import AuditTrail
from .cache import Credentials
from .cache import VerifiedTokens
from .change_feeds import RedisFeed
from .change_feeds import feed_factory
from .clients import ClientRecord
from .config import OAuthConfig
from .dpop import ProofChecker
from .dpop_nonces import Nonces
from .hashing import SecretHasher
from .invalidation import ChangeWatch
from .invalidation import PushedCounter
from .invalidation import StrictCounter
from .jwks_fetch import JwksFetcher
from .keys import KeyStore
from .limits import FailureLimiter
from .management import Management
from .outages import OutageLog
from .scopes import ScopeRegistry
from .sealing import KeySealer
from .seams import AuditSink
from .seams import Clock
from .seams import SharedState
from .shared_redis import RedisSharedState
from .shared_sql import SqlSharedState
from .store import Store
from .telemetry import Telemetry
from .usage import UsageRecorder

__all__ = ["Core"]


@dataclass(frozen=True, eq=False)
class Core:
    config: OAuthConfig
    registry: ScopeRegistry
    hasher: SecretHasher
    #: The host's session and the library's SQL on it.
    store: Store
    #: The keys that sign and verify access tokens.
    keys: KeyStore
    #: Tokens this process verified, kept strict by the change counter.
    verified: VerifiedTokens
    #: How this process learns the change counter: strict, or pushed.
    changes: ChangeWatch
    #: Credentials this process checked with bcrypt.
    credentials: Credentials
    #: Failed-authentication limits, on the shared state.
    limiter: FailureLimiter
    #: The client management use cases.
    management: Management
    #: Storage failures: the 503 to answer, the cause logged once.
    outages: OutageLog
    #: Clients' jwks_uri, fetched with SSRF guards and cached.
    jwks: JwksFetcher
    #: DPoP proofs, at the token endpoint and at protected routes.
    dpop: ProofChecker
    #: When each client was last used (coarse marks).
    usage: UsageRecorder
    #: The admin page's sessions.
    admin_sessions: AdminSessions
    #: The persisted audit events.
    trail: AuditTrail
    #: OpenTelemetry metrics and spans (no-ops without opentelemetry-api).
    telemetry: Telemetry
    clock: Clock
    #: Where every audit event is reported, after its change committed (the
    #: kept ones were staged in that change's transaction, see :attr:`trail`).
    audit: AuditSink

    def __repr__(self) -> str:
        return f"<Core root={self.root.client_id!r}>"

    @property
    def root(self) -> ClientRecord:
        return self.store.root

    def rotate_signing_key(self, actor: str) -> str:
        """A new signing key, its audit row in the same transaction; its
        ``kid``. The one home of a rotation: admin page, CLI, Python API."""
        event = "signing_key_rotated"

        def record(session: Session, kid: str) -> None:
            self.trail.stage(session, event, actor=actor, target=kid)

        kid = self.keys.rotate(record)
        self.audit(event, actor=actor, target=kid)
        return kid

    def prune(self) -> dict[str, int]:
        """Delete what has outlived its use; rows deleted per kind."""
        now = self.clock()
        return {
            "revoked_tokens": self.store.prune_revocations(now),
            "auth_failures": self.limiter.prune(now),
            "audit_events": self.trail.prune(now),
        }

    @classmethod
    def build(
        cls,
        settings: OAuthConfig,
        registry: ScopeRegistry,
        hasher: SecretHasher,
        store: Store,
        signing_key: ECKey | None,
        sealer: KeySealer | None,
        *,
        clock: Clock,
        audit: AuditSink,
        shared: SharedState | None = None,
        nonce_keys: Sequence[bytes] = (),
        telemetry: Telemetry | None = None,
    ) -> Core:
        """The services of one app, in dependency order, in one step.

        ``nonce_keys`` key the DPoP nonces; every worker must derive the same
        ones (the extension derives them from the configured secrets)."""
        if shared is None:
            shared = (
                RedisSharedState(settings.storage_uri)
                if settings.storage_uri
                else SqlSharedState(store.engine, store.reader)
            )
        outages = OutageLog()
        changes: ChangeWatch = StrictCounter(store.counter)
        if settings.invalidation == "push":
            changes = PushedCounter(
                store.counter,
                feed_factory(settings.storage_uri),
                store.engine,
                settings.max_staleness,
            )
            store.announce_changes_with(changes.forget)
        if settings.storage_uri:
            # Whatever this process's mode, push-mode workers hear its changes.
            store.announce_changes_with(RedisFeed(settings.storage_uri).announce)
        trail = AuditTrail(store.engine, clock, settings.audit_retention)
        telemetry = telemetry or Telemetry()
        return cls(
            config=settings,
            registry=registry,
            hasher=hasher,
            store=store,
            keys=KeyStore(
                signing_key,
                store.engine,
                retention=settings.access_token_expires_in,
                sealer=sealer,
                clock=clock,
            ),
            verified=VerifiedTokens(settings.token_cache_size),
            changes=changes,
            credentials=Credentials(settings.credential_cache_size),
            limiter=FailureLimiter(
                settings.auth_failure_limit,
                settings.auth_failure_window,
                shared,
                trusted_source_seconds=settings.trusted_source_seconds,
                clock=clock,
            ),
            management=Management(
                store,
                hasher,
                root_id=settings.root_client_id,
                max_rotation_grace=settings.max_rotation_grace,
                audit=audit,
                trail=trail,
                clock=clock,
                telemetry=telemetry,
            ),
            outages=outages,
            jwks=JwksFetcher(settings.jwks_uri_allow_loopback, clock=clock),
            dpop=ProofChecker(
                shared,
                clock,
                settings.dpop_proof_max_age,
                Nonces(nonce_keys, settings.dpop_nonce_seconds, clock)
                if settings.dpop_require_nonce
                else None,
            ),
            usage=UsageRecorder(store.engine, clock, outages),
            admin_sessions=AdminSessions(store.engine, clock),
            trail=trail,
            telemetry=telemetry,
            clock=clock,
            audit=audit,
        )
