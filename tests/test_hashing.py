"""Secret generation and bcrypt hashing: no app needed."""

from __future__ import annotations

import bcrypt
import pytest

from fides_oauth.hashing import SecretHasher
from fides_oauth.hashing import generate_client_id
from fides_oauth.hashing import generate_client_secret


@pytest.fixture(scope="module")
def hasher() -> SecretHasher:
    return SecretHasher(rounds=4)


def test_client_ids_are_32_hex_characters() -> None:
    ids = {generate_client_id() for _ in range(100)}
    assert len(ids) == 100
    for value in ids:
        assert len(value) == 32
        int(value, 16)


def test_secrets_carry_256_bits_and_fit_bcrypt() -> None:
    secrets = {generate_client_secret() for _ in range(100)}
    assert len(secrets) == 100
    for value in secrets:
        assert len(value) == 43  # 32 bytes, URL-safe base64
        assert len(value.encode()) <= 72


def test_hash_is_bcrypt_at_the_configured_cost(hasher: SecretHasher) -> None:
    hashed = hasher.hash("a secret")
    assert hashed.startswith("$2b$04$")
    assert bcrypt.checkpw(b"a secret", hashed.encode())
    assert "a secret" not in hashed


def test_verify_accepts_the_secret_only(hasher: SecretHasher) -> None:
    hashed = hasher.hash("right")
    assert hasher.verify("right", hashed)
    assert not hasher.verify("wrong", hashed)
    assert not hasher.verify("", hashed)
    assert not hasher.verify(None, hashed)


def test_verify_of_an_unknown_client_is_false(hasher: SecretHasher) -> None:
    assert not hasher.verify("anything", None)


def test_over_long_secret_never_matches_on_its_prefix(hasher: SecretHasher) -> None:
    secret = "s" * 72
    hashed = hasher.hash(secret)
    assert hasher.verify(secret, hashed)
    assert not hasher.verify(secret + "extra", hashed)


def test_hashing_an_over_long_secret_is_refused(hasher: SecretHasher) -> None:
    with pytest.raises(ValueError, match="72 bytes"):
        hasher.hash("é" * 37)


def test_odd_input_never_raises(hasher: SecretHasher) -> None:
    hashed = hasher.hash("right")
    for odd in ["\x00", "\ud800", "é" * 100, "x" * 10_000]:
        assert not hasher.verify(odd, hashed)
    assert not hasher.verify("right", "not a bcrypt hash")
    assert not hasher.verify("right", "")


def test_every_verify_costs_one_bcrypt_check(
    hasher: SecretHasher, bcrypt_checks: list[bytes]
) -> None:
    calls = bcrypt_checks
    hashed = hasher.hash("right")
    for secret, stored in [
        ("right", hashed),
        ("wrong", hashed),
        ("right", None),
        ("x" * 100, hashed),
        ("right", "garbage"),
    ]:
        calls.clear()
        hasher.verify(secret, stored)
        assert len(calls) >= 1
        # Work is at the configured cost, whatever the case.
        assert all(call.startswith(b"$2b$04$") for call in calls[-1:])
