"""The key that signs access tokens: configured, or generated once and shared.

ES256 (ECDSA on P-256): an asymmetric key, so a resource server can verify
tokens from the public half alone; the most widely implemented asymmetric
JWS algorithm after RS256, with keys and signatures a fraction of the size
and signing an order of magnitude faster than RSA.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from joserfc.jwk import ECKey
from joserfc.jwk import Key
from joserfc.jwk import KeySet
from sqlalchemy import delete
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from .models import SigningKey
from .sealing import KeySealer
from .seams import Clock
from .seams import system_clock

__all__ = ["ALGORITHM", "CURVE", "KeyStore", "load_pem_key"]

ALGORITHM = "ES256"
CURVE = "P-256"
#: A token naming an unknown key reloads the keys at most this often.
_FORCED_REFRESH_MIN_SECONDS = 2.0


_HOW_TO_GENERATE = (
    "Generate one with `openssl ecparam -name prime256v1 -genkey -noout | "
    "openssl pkcs8 -topk8 -nocrypt`."
)


def load_pem_key(pem: str) -> ECKey:
    """Parse a configured private key, refusing anything but EC P-256."""
    try:
        private = serialization.load_pem_private_key(pem.encode(), password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise RuntimeError(
            "FIDES_OAUTH_SIGNING_KEY is not an unencrypted PEM private key. "
            + _HOW_TO_GENERATE
        ) from exc
    if not (
        isinstance(private, ec.EllipticCurvePrivateKey)
        and isinstance(private.curve, ec.SECP256R1)
    ):
        raise RuntimeError(
            "FIDES_OAUTH_SIGNING_KEY must be an EC P-256 private key (ES256). "
            + _HOW_TO_GENERATE
        )
    key: ECKey = ECKey.import_key(private)
    key.ensure_kid()
    return key


class KeyStore:
    """The signing keys of one app.

    A configured key is used as it is. Otherwise keys live in the database:
    the first is generated on first use (every worker and restart then
    shares it), :meth:`rotate` adds a newer one that takes over signing,
    and a retired key keeps verifying until every token it signed has
    expired (``retention`` seconds, the token lifetime), then is dropped.

    Each process caches the keys and reloads them every ``refresh_seconds``
    — and at once, at most every few seconds, when a token names a key it
    does not know — so a rotation made by one worker reaches the others.
    """

    def __init__(
        self,
        configured: ECKey | None,
        engine_of: Callable[[], Engine],
        retention: int,
        sealer: KeySealer | None,
        refresh_seconds: float = 60.0,
        clock: Clock = system_clock,
    ) -> None:
        self._clock = clock
        if configured is None and sealer is None:
            raise ValueError("Keys kept in the database need a KeySealer.")
        self._configured = configured
        self._sealer = sealer
        self._engine_of = engine_of
        self._retention = retention
        self._refresh_seconds = refresh_seconds
        self._lock = threading.Lock()
        self._signing: ECKey | None = configured
        self._verifying: KeySet | None = KeySet([configured]) if configured else None
        self._loaded_at = 0.0
        self._forced_at = 0.0

    def __repr__(self) -> str:
        return f"<KeyStore configured={self._configured is not None}>"

    def signing_key(self) -> ECKey:
        """The key that signs new tokens."""
        self._ensure_fresh()
        assert self._signing is not None
        return self._signing

    def verification_keys(self, refresh: bool = False) -> KeySet:
        """Every key whose tokens may still be valid."""
        self._ensure_fresh(force=refresh)
        assert self._verifying is not None
        return self._verifying

    def public_jwks(self) -> dict[str, Any]:
        """The public halves, as a JWK Set (RFC 7517) with ``kid``s."""
        keys = []
        for key in self.verification_keys().keys:
            public = dict(key.as_dict(private=False))
            public.update({"use": "sig", "alg": ALGORITHM})
            keys.append(public)
        return {"keys": keys}

    def rotate(self, record: Callable[[Session, str], None] | None = None) -> str:
        """Make a new key sign new tokens; returns its ``kid``. ``record``
        adds the rotation's audit row to the same transaction."""
        if self._configured is not None:
            raise RuntimeError(
                "The signing key comes from FIDES_OAUTH_SIGNING_KEY: rotate it "
                "there (tokens it signed stop verifying when it changes)."
            )
        self.check()  # a KEK that cannot open the keys must not add one
        now = self._clock()
        with Session(bind=self._engine_of()) as session:
            newest = session.scalar(select(func.max(SigningKey.generation))) or 0
            key = _new_key()
            session.add(self._stored(key, newest + 1))
            session.execute(
                update(SigningKey)
                .where(SigningKey.generation <= newest, SigningKey.retired_at.is_(None))
                .values(retired_at=now)
            )
            session.execute(
                delete(SigningKey).where(SigningKey.retired_at < now - self._retention)
            )
            if record is not None:
                record(session, str(key.kid))
            session.commit()  # a concurrent rotation fails here: one wins
        self._loaded_at = 0.0  # reload on next use
        return str(key.kid)

    def check(self) -> int:
        """Open every stored key now, generating none: start-up calls it,
        so a wrong key-encryption key fails the deploy with
        :class:`~.sealing.SealError` rather than the first token request.
        Returns the number of stored keys."""
        if self._configured is not None:
            return 0
        with Session(bind=self._engine_of()) as session:
            rows = list(session.scalars(select(SigningKey)))
            for row in rows:
                self._open(session, row)
            session.commit()  # keys stored in the clear by 0.1.0 are sealed
        return len(rows)

    def reseal(self) -> int:
        """Seal every stored key under the current (first) KEK; returns how
        many were sealed under another. Run it once every worker can open
        keys sealed under the current KEK (see :mod:`.sealing`)."""
        if self._configured is not None:
            return 0
        sealer = self._sealer
        assert sealer is not None
        changed = 0
        with Session(bind=self._engine_of()) as session:
            for row in session.scalars(select(SigningKey)):
                key = self._open(session, row)
                if sealer.kek_id_of(row.sealed_private_key) != sealer.current_id:
                    row.sealed_private_key = sealer.seal(
                        key.as_pem(private=True), row.kid.encode()
                    )
                    changed += 1
            session.commit()
        return changed

    def _stored(self, key: ECKey, generation: int) -> SigningKey:
        assert self._sealer is not None
        kid = str(key.kid)
        return SigningKey(
            kid=kid,
            generation=generation,
            algorithm=ALGORITHM,
            sealed_private_key=self._sealer.seal(
                key.as_pem(private=True), kid.encode()
            ),
        )

    def _open(self, session: Session, row: SigningKey) -> ECKey:
        """A stored key, opened. One stored in the clear by an earlier
        release is sealed in ``session`` (that release cannot read the
        renamed column anyway); one sealed under another configured KEK is
        left as it is, for workers still on the previous KEK list."""
        assert self._sealer is not None
        stored = row.sealed_private_key
        if stored.startswith("-----BEGIN"):
            pem = stored.encode("ascii")
            row.sealed_private_key = self._sealer.seal(pem, row.kid.encode())
            return _import(pem)
        return _import(self._sealer.open(stored, row.kid.encode()))

    def _stale(self, force: bool) -> bool:
        now = self._clock()
        return (
            self._signing is None
            or now - self._loaded_at >= self._refresh_seconds
            or (force and now - self._forced_at >= _FORCED_REFRESH_MIN_SECONDS)
        )

    def _ensure_fresh(self, force: bool = False) -> None:
        if self._configured is not None or not self._stale(force):
            return
        with self._lock:
            if self._stale(force):  # another thread may have just loaded
                now = self._clock()
                self._signing, self._verifying = self._load(now)
                self._loaded_at = now
                if force:
                    self._forced_at = now

    def _load(self, now: float) -> tuple[ECKey, KeySet]:
        # A session of its own: keys must be committed whatever the
        # request's own transaction does.
        with Session(bind=self._engine_of()) as session:
            rows = list(
                session.scalars(select(SigningKey).order_by(SigningKey.generation))
            )
            if not rows:
                session.add(self._stored(_new_key(), 1))
                try:
                    session.commit()
                except IntegrityError:
                    # Another worker stored the first key meanwhile: use it.
                    session.rollback()
                rows = list(
                    session.scalars(select(SigningKey).order_by(SigningKey.generation))
                )
            opened = [(self._open(session, row), row.retired_at) for row in rows]
            session.commit()  # keys re-sealed under the current KEK, if any
        signing = opened[-1][0]
        verifying: list[Key] = [
            key
            for key, retired_at in opened
            if retired_at is None or retired_at + self._retention > now
        ]
        return signing, KeySet(verifying)


def _new_key() -> ECKey:
    key: ECKey = ECKey.generate_key(CURVE, private=True, auto_kid=True)
    return key


def _import(pem: str | bytes) -> ECKey:
    key: ECKey = ECKey.import_key(pem)
    key.ensure_kid()
    return key
