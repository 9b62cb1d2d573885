"""The key that signs access tokens: configured, or generated once and shared.

ES256 (ECDSA on P-256): an asymmetric key, so a resource server can verify
tokens from the public half alone; the most widely implemented asymmetric
JWS algorithm after RS256, with keys and signatures a fraction of the size
and signing an order of magnitude faster than RSA.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from joserfc.jwk import ECKey
from joserfc.jwk import KeySet
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from .models import SigningKey

__all__ = ["ALGORITHM", "KeyStore", "load_pem_key"]

ALGORITHM = "ES256"
_CURVE = "P-256"


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

    A configured key is used as it is. Otherwise the key is read from the
    database on first use — or generated and stored there if there is none —
    so that every worker process and every restart signs and verifies with
    the same key.
    """

    def __init__(
        self,
        configured: ECKey | None,
        engine_of: Callable[[], object],
    ) -> None:
        self._engine_of = engine_of
        self._lock = threading.Lock()
        self._keys: KeySet | None = KeySet([configured]) if configured else None

    def __repr__(self) -> str:
        return f"<KeyStore loaded={self._keys is not None}>"

    def signing_keys(self) -> KeySet:
        """The key set that signs (one key) and verifies tokens."""
        keys = self._keys
        if keys is None:
            with self._lock:
                if self._keys is None:
                    self._keys = KeySet([self._load_or_create()])
                keys = self._keys
        return keys

    def _load_or_create(self) -> ECKey:
        # A session of its own: the key must be committed whatever the
        # request's own transaction does.
        with Session(bind=self._engine_of()) as session:  # type: ignore[arg-type]
            stored = session.scalars(
                select(SigningKey).order_by(SigningKey.generation.desc()).limit(1)
            ).first()
            if stored is None:
                key: ECKey = ECKey.generate_key(_CURVE, private=True, auto_kid=True)
                session.add(
                    SigningKey(
                        kid=key.kid,
                        generation=1,
                        algorithm=ALGORITHM,
                        private_key_pem=key.as_pem(private=True).decode("ascii"),
                    )
                )
                try:
                    session.commit()
                    return key
                except IntegrityError:
                    # Another worker stored the first key meanwhile: use it.
                    session.rollback()
                    stored = session.scalars(
                        select(SigningKey).where(SigningKey.generation == 1)
                    ).one()
            loaded: ECKey = ECKey.import_key(stored.private_key_pem)
            loaded.ensure_kid()
            return loaded
