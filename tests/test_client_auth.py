"""Client authentication with no Flask app: the method registry and the
credential check, the caller's address passed in as a value."""

from __future__ import annotations

import base64
import contextlib
from typing import Any

import pytest

from fides_oauth.bodies import ClientSpec
from fides_oauth.client_auth import METHOD_NAMES
from fides_oauth.client_auth import METHODS
from fides_oauth.client_auth import check_credentials
from fides_oauth.errors import TooManyAttemptsError
from fides_oauth.management import Actor
from tests.conftest import ROOT_ID
from tests.conftest import ROOT_SECRET

OPERATOR = Actor("cli", frozenset(), operator=True)


def _basic(raw: bytes) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


def test_the_registry_names_the_rfc_7591_methods() -> None:
    assert METHOD_NAMES == (
        "client_secret_basic",
        "client_secret_post",
        "private_key_jwt",
    )


def test_each_method_reads_its_own_place() -> None:
    basic, post = METHODS["client_secret_basic"], METHODS["client_secret_post"]
    form = {"client_id": "in-form", "client_secret": "form-secret"}
    headers = _basic(b"in-basic:basic-secret")
    assert basic(headers, form) == ("in-basic", "basic-secret")
    assert post(headers, form) == ("in-form", "form-secret")
    assert basic({}, form) == (None, None)
    assert basic(_basic(b"\xff\xfe:\xff"), {}) == (None, None)  # never raises


def test_good_and_bad_credentials(core_kit: Any, bcrypt_checks: list[bytes]) -> None:
    core, audit, _ = core_kit
    client, secret = core.management.create(OPERATOR, ClientSpec(["rule:read"]))
    audit.events.clear()
    found = check_credentials(core, client.id, secret, "10.0.0.1")
    assert found is not None and found.client_id == client.id
    assert check_credentials(core, client.id, "wrong", "10.0.0.1") is None
    assert audit.names() == ["authentication_failed"]
    bcrypt_checks.clear()
    # An unknown id costs one bcrypt check, like a wrong secret.
    assert check_credentials(core, "f" * 32, "anything", "10.0.0.1") is None
    assert len(bcrypt_checks) == 1
    assert audit.events[-1]["actor"].startswith("unknown:")
    # Checked before: no bcrypt at all.
    bcrypt_checks.clear()
    assert check_credentials(core, client.id, secret, "10.0.0.1") is not None
    assert bcrypt_checks == []


def test_missing_credentials_are_not_an_attempt(core_kit: Any) -> None:
    core, audit, _ = core_kit
    assert check_credentials(core, None, "x", "10.0.0.1") is None
    assert check_credentials(core, ROOT_ID, None, "10.0.0.1") is None
    assert audit.events == []


def test_the_address_decides_the_known_source(core_kit: Any) -> None:
    core, _, _ = core_kit
    limit = core.config.auth_failure_limit
    assert check_credentials(core, ROOT_ID, ROOT_SECRET, "10.1.1.1") is not None
    for index in range(limit + 2):  # the last ones are refused unchecked
        with contextlib.suppress(TooManyAttemptsError):
            check_credentials(core, ROOT_ID, "wrong", f"10.6.6.{index}")
    # From where it authenticated before: still in. From elsewhere: 429.
    assert check_credentials(core, ROOT_ID, ROOT_SECRET, "10.1.1.1") is not None
    with pytest.raises(TooManyAttemptsError):
        check_credentials(core, ROOT_ID, ROOT_SECRET, "10.2.2.2")
