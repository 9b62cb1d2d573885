"""Signing keys sealed at rest: AES-256-GCM under a key-encryption key.

The database never holds a private signing key in the clear, and so no SQL
log line (``echo``, a statement logger, a replica's dump) carries one.

The key-encryption keys (KEKs) come from ``FIDES_OAUTH_KEY_ENCRYPTION_KEY``:
one random string, or a list whose first entry seals and whose every entry
opens. Each is stretched with HKDF-SHA256 into an AES-256 key; HKDF is
fast, so a KEK must be random (at least 32 characters, e.g.
``secrets.token_urlsafe(32)``), never a passphrase or another secret of the
deployment — a low-entropy KEK could be guessed offline from a database
copy. Nothing is derived from the root client secret.

Rotation, without a moment where a running worker cannot open a key:
deploy ``[old, new]`` (new keys still sealed under ``old``), then
``[new, old]`` and run ``flask fides-oauth reseal-keys`` (every key sealed
under ``new``), then ``[new]``. Keys are never re-sealed behind the
operator's back, so workers still on the previous list keep working.

A sealed value is ``v1.<kek id>.<base64url(nonce || ciphertext)>``; the
key's ``kid`` is the associated data, so a sealed key cannot be moved to
another row. The KEK id (an HKDF output of its own) tells which KEK sealed
a value, for the error message and for re-sealing.
"""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

__all__ = ["KEK_MIN_LENGTH", "KeySealer", "SealError", "derive_keys"]

KEK_MIN_LENGTH = 32
_VERSION = "v1"
_SALT = b"fides_oauth signing-key sealing"
_NONCE_BYTES = 12


class SealError(RuntimeError):
    """A sealed key could not be opened with any configured KEK."""


def _derive(secret: str, purpose: bytes, length: int) -> bytes:
    return HKDF(
        algorithm=hashes.SHA256(), length=length, salt=_SALT, info=purpose
    ).derive(secret.encode("utf-8", "surrogatepass"))


def derive_keys(secrets: Sequence[str], purpose: bytes) -> list[bytes]:
    """A 32-byte key per secret, for ``purpose`` (HKDF-SHA256), in order:
    how other features (the DPoP nonces) key themselves off the KEKs without
    a configuration key of their own."""
    return [_derive(secret, purpose, 32) for secret in secrets]


class KeySealer:
    """Seals under the first KEK; opens under any of them."""

    def __init__(self, secrets: Sequence[str]) -> None:
        if not secrets:
            raise ValueError("KeySealer needs at least one key-encryption key.")
        self._keys: dict[str, AESGCM] = {}
        self._order: list[str] = []
        for secret in secrets:
            kek_id = _derive(secret, b"kek id", 6).hex()
            self._keys.setdefault(kek_id, AESGCM(_derive(secret, b"aes-256-gcm", 32)))
            self._order.append(kek_id)
        self.current_id = self._order[0]

    def __repr__(self) -> str:
        return f"<KeySealer current={self.current_id} keks={len(self._keys)}>"

    def seal(self, plaintext: bytes, associated: bytes) -> str:
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._keys[self.current_id].encrypt(nonce, plaintext, associated)
        body = base64.urlsafe_b64encode(nonce + sealed).decode("ascii").rstrip("=")
        return f"{_VERSION}.{self.current_id}.{body}"

    def kek_id_of(self, sealed: str) -> str | None:
        """The id of the KEK that sealed ``sealed``; None if not sealed."""
        parts = sealed.split(".")
        return parts[1] if len(parts) == 3 and parts[0] == _VERSION else None

    def open(self, sealed: str, associated: bytes) -> bytes:
        kek_id = self.kek_id_of(sealed)
        if kek_id is None:
            raise SealError("The stored signing key is not in a sealed format.")
        aead = self._keys.get(kek_id)
        if aead is None:
            raise SealError(
                f"A stored signing key is sealed under key-encryption key {kek_id}, "
                "which is not configured. Set FIDES_OAUTH_KEY_ENCRYPTION_KEY to the "
                "key it was sealed with (during a rotation, list both)."
            )
        body = sealed.split(".")[2]
        try:
            raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
            return aead.decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], associated)
        except (InvalidTag, ValueError, binascii.Error) as exc:
            raise SealError(
                "A stored signing key failed its integrity check: the row was "
                "altered or moved. Restore it from a backup, or delete it to "
                "have a new key generated (tokens it signed stop verifying)."
            ) from exc
