"""Client ids, client secrets, and their bcrypt hashes.

Framework-neutral. A secret exists in plaintext only in the request that
carries it and in the one response that hands it out; what is kept is the
hash this module makes.
"""

from __future__ import annotations

import secrets

import bcrypt

__all__ = [
    "BCRYPT_MAX_BYTES",
    "CLIENT_ID_BYTES",
    "CLIENT_SECRET_BYTES",
    "SecretHasher",
    "generate_client_id",
    "generate_client_secret",
]

#: bcrypt reads at most this many bytes of a password; bcrypt>=5 refuses more.
BCRYPT_MAX_BYTES = 72
#: 16 random bytes: 32 hex characters, as Fides' client ids.
CLIENT_ID_BYTES = 16
#: 32 random bytes (256 bits): 43 URL-safe characters, well under 72 bytes.
CLIENT_SECRET_BYTES = 32


def generate_client_id() -> str:
    return secrets.token_hex(CLIENT_ID_BYTES)


def generate_client_secret() -> str:
    return secrets.token_urlsafe(CLIENT_SECRET_BYTES)


def _to_bytes(secret: str) -> bytes:
    # surrogatepass: a str decoded leniently from a request must never make
    # hashing raise; such a secret simply fails to match.
    return secret.encode("utf-8", "surrogatepass")


class SecretHasher:
    """Hashes and checks secrets at one bcrypt cost.

    ``verify`` costs one bcrypt check whatever it is given — an unknown
    client (no hash), an over-long secret, a malformed stored hash — so the
    answer's timing does not tell which case it was.
    """

    __slots__ = ("_dummy_hash", "rounds")

    def __init__(self, rounds: int) -> None:
        self.rounds = rounds
        # A hash of a random value nobody knows, at the same cost as real ones.
        self._dummy_hash = self.hash(secrets.token_urlsafe(CLIENT_SECRET_BYTES))

    def hash(self, secret: str) -> str:
        raw = _to_bytes(secret)
        if len(raw) > BCRYPT_MAX_BYTES:
            raise ValueError(
                f"A secret to hash must be at most {BCRYPT_MAX_BYTES} bytes "
                "in UTF-8 (bcrypt ignores the rest)."
            )
        return bcrypt.hashpw(raw, bcrypt.gensalt(self.rounds)).decode("ascii")

    def verify(self, secret: str | None, hashed: str | None) -> bool:
        """Constant-time check of ``secret`` against ``hashed``.

        ``hashed=None`` stands for an unknown client: the dummy hash is
        checked instead, and the answer is False.
        """
        candidate = _to_bytes(secret or "")
        acceptable = secret is not None and len(candidate) <= BCRYPT_MAX_BYTES
        stored = hashed.encode("ascii", "replace") if hashed else None
        if stored is None:
            acceptable = False
            stored = self._dummy_hash.encode("ascii")
        try:
            matched = bcrypt.checkpw(candidate[:BCRYPT_MAX_BYTES], stored)
        except ValueError:
            # A stored value that is not a bcrypt hash: spend the same work.
            bcrypt.checkpw(candidate[:BCRYPT_MAX_BYTES], self._dummy_hash.encode())
            return False
        return matched and acceptable
