"""Registration: configuration keys, fail-fast messages, per-app state (CONTRACT §4)."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from examples.host_app import create_app
from fides_oauth import FidesOAuth
from fides_oauth.config import DEFAULTS
from fides_oauth.config import load_config
from tests.conftest import ROOT_ID
from tests.conftest import ROOT_SECRET
from tests.conftest import OAuth
from tests.conftest import base_config


@pytest.mark.parametrize(
    "key", ["FIDES_OAUTH_ROOT_CLIENT_ID", "FIDES_OAUTH_ROOT_CLIENT_SECRET"]
)
def test_missing_root_credentials_fail_start_up_naming_the_key(
    tmp_path: Any, key: str
) -> None:
    # None counts as unset: the reference host must not fill in a demo value.
    with pytest.raises(RuntimeError, match=key):
        create_app(base_config(tmp_path) | {key: None})


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("FIDES_OAUTH_ROOT_CLIENT_SECRET", "short", "at least 16"),
        ("FIDES_OAUTH_ROOT_CLIENT_SECRET", "x" * 73, "72 bytes"),
        ("FIDES_OAUTH_ROOT_CLIENT_SECRET", 1234567890123456789, "string"),
        ("FIDES_OAUTH_ROOT_CLIENT_ID", "", "not set"),
        ("FIDES_OAUTH_ROOT_CLIENT_ID", "bad\nid", "printable"),
        ("FIDES_OAUTH_BCRYPT_ROUNDS", 3, "from 4 to 31"),
        ("FIDES_OAUTH_BCRYPT_ROUNDS", "12", "integer"),
        ("FIDES_OAUTH_BCRYPT_ROUNDS", True, "integer"),
        ("FIDES_OAUTH_ACCESS_TOKEN_EXPIRE_MINUTES", 0, "from 1"),
        ("FIDES_OAUTH_ACCESS_TOKEN_EXPIRE_MINUTES", 1.5, "integer"),
        ("FIDES_OAUTH_ISSUER", "", "non-empty"),
        ("FIDES_OAUTH_SIGNING_KEY", "not a pem", "PEM"),
        ("FIDES_OAUTH_MAX_BODY_BYTES", 10, "from 1024"),
    ],
)
def test_bad_values_fail_start_up_with_a_clear_message(
    tmp_path: Any, key: str, value: Any, message: str
) -> None:
    with pytest.raises(RuntimeError, match=message) as caught:
        create_app(base_config(tmp_path) | {key: value})
    assert key in str(caught.value)


def test_error_messages_never_echo_the_secret(tmp_path: Any) -> None:
    secret = "tiny-secret"
    with pytest.raises(RuntimeError) as caught:
        create_app(base_config(tmp_path) | {"FIDES_OAUTH_ROOT_CLIENT_SECRET": secret})
    assert secret not in str(caught.value)


def test_defaults_are_documented_values() -> None:
    assert DEFAULTS["FIDES_OAUTH_ACCESS_TOKEN_EXPIRE_MINUTES"] == 60
    assert DEFAULTS["FIDES_OAUTH_BCRYPT_ROUNDS"] == 12
    settings, _ = load_config(
        {
            "FIDES_OAUTH_ROOT_CLIENT_ID": ROOT_ID,
            "FIDES_OAUTH_ROOT_CLIENT_SECRET": ROOT_SECRET,
            "FIDES_OAUTH_KEY_ENCRYPTION_KEY": "k" * 43,
        }
    )
    assert settings.access_token_expires_in == 3600
    assert settings.bcrypt_rounds == 12
    assert settings.max_body_bytes == 64 * 1024


def test_config_repr_hides_the_signing_key() -> None:
    settings, _ = load_config(
        {
            "FIDES_OAUTH_ROOT_CLIENT_ID": ROOT_ID,
            "FIDES_OAUTH_ROOT_CLIENT_SECRET": ROOT_SECRET,
            "FIDES_OAUTH_SIGNING_KEY": "-----BEGIN PRIVATE KEY-----secret",
        }
    )
    assert "PRIVATE" not in repr(settings)
    assert ROOT_SECRET not in repr(settings)


def test_malformed_host_scope_is_refused_at_construction() -> None:
    for bad in ["has space", "", "a::b", 'quote"', "x" * 101, "trailing:"]:
        with pytest.raises(ValueError, match="Malformed scope"):
            FidesOAuth(session=lambda: None, scopes=[bad])  # type: ignore[arg-type,return-value]


def test_session_must_be_callable() -> None:
    with pytest.raises(TypeError, match="session"):
        FidesOAuth(session=None)  # type: ignore[arg-type]


def test_registering_twice_on_one_app_is_an_error(app: Flask) -> None:
    blueprint = FidesOAuth(session=lambda: None)  # type: ignore[arg-type,return-value]
    fresh = Flask("twice")
    fresh.config.update(base_config_for(app))
    fresh.register_blueprint(blueprint, url_prefix="/a")
    with pytest.raises(RuntimeError, match="already registered"):
        fresh.register_blueprint(blueprint, url_prefix="/b", name="again")


def base_config_for(app: Flask) -> dict[str, Any]:
    return {k: v for k, v in app.config.items() if k.startswith("FIDES_OAUTH_")}


def test_two_apps_in_one_process_do_not_share_state(make_app: Any) -> None:
    # One database, so one key-encryption key for its signing keys.
    kek = {"FIDES_OAUTH_KEY_ENCRYPTION_KEY": "kek-shared-by-both-apps-0123456789abcdef"}
    first = make_app(**kek)
    second = make_app(
        FIDES_OAUTH_ROOT_CLIENT_ID="other-root",
        FIDES_OAUTH_ROOT_CLIENT_SECRET="other-root-secret-0123",
        **kek,
    )
    assert first.extensions["fides_oauth"] is not second.extensions["fides_oauth"]
    one, two = first.test_client(), second.test_client()
    token = OAuth(first, one).root_token()
    # Each app knows its own root client only.
    refused = two.post(
        "/api/v1/oauth/token",
        data={"client_id": ROOT_ID, "client_secret": ROOT_SECRET},
    )
    assert refused.status_code == 401
    accepted = two.post(
        "/api/v1/oauth/token",
        data={"client_id": "other-root", "client_secret": "other-root-secret-0123"},
    )
    assert accepted.status_code == 200
    # A token of one app is not accepted by the other (different keys).
    response = two.get("/api/v1/policy", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401


def test_any_prefix_works(make_plain_app: Any) -> None:
    app = make_plain_app(prefix="/custom/auth")
    http = app.test_client()
    response = http.post(
        "/custom/auth/oauth/token",
        data={"client_id": ROOT_ID, "client_secret": ROOT_SECRET},
    )
    assert response.status_code == 200
    token = response.get_json()["access_token"]
    response = http.get(
        "/custom/auth/oauth/scope", headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 200
    assert "report:read" in response.get_json()


def test_configuration_is_read_at_registration_not_later(make_app: Any) -> None:
    app = make_app(FIDES_OAUTH_ACCESS_TOKEN_EXPIRE_MINUTES=5)
    app.config["FIDES_OAUTH_ACCESS_TOKEN_EXPIRE_MINUTES"] = 99
    response = app.test_client().post(
        "/api/v1/oauth/token", data={"client_id": ROOT_ID, "client_secret": ROOT_SECRET}
    )
    assert response.get_json()["expires_in"] == 300
