"""Real OAuth clients, over a real socket: what users already have must work."""

from __future__ import annotations

import pytest
import requests
from authlib.integrations.requests_client import OAuth2Session
from oauthlib.oauth2 import BackendApplicationClient
from requests.auth import HTTPBasicAuth
from requests_oauthlib import OAuth2Session as RequestsOAuthlibSession

from tests.conftest import OAuth


@pytest.fixture
def registered(oauth: OAuth) -> dict[str, str]:
    created = oauth.create_client(["policy:read", "rule:read"])
    oauth.create_client(["token:introspect"], name="introspector")
    return created


def _introspector(oauth: OAuth) -> tuple[str, str]:
    created = oauth.create_client(["token:introspect"])
    return created["client_id"], created["client_secret"]


@pytest.mark.parametrize("method", ["client_secret_basic", "client_secret_post"])
def test_authlib_oauth2session(
    oauth: OAuth, live_server: str, registered: dict[str, str], method: str
) -> None:
    base = live_server + "/api/v1"
    metadata = requests.get(
        live_server + "/.well-known/oauth-authorization-server/api/v1", timeout=10
    ).json()
    assert metadata["token_endpoint"] == base + "/oauth/token"
    with OAuth2Session(
        registered["client_id"],
        registered["client_secret"],
        token_endpoint_auth_method=method,
        scope="policy:read",
    ) as session:
        token = session.fetch_token(
            metadata["token_endpoint"], grant_type="client_credentials"
        )
        assert token["token_type"] == "Bearer"
        assert token["scope"] == "policy:read"
        response = session.get(base + "/policy", timeout=10)
        assert response.status_code == 200
        assert session.get(base + "/rule", timeout=10).status_code == 403

        introspector = _introspector(oauth)
        active = requests.post(
            metadata["introspection_endpoint"],
            data={"token": token["access_token"]},
            auth=introspector,
            timeout=10,
        ).json()
        assert active["active"] is True
        assert active["client_id"] == registered["client_id"]

        session.revoke_token(
            metadata["revocation_endpoint"], token["access_token"]
        ).raise_for_status()
        assert session.get(base + "/policy", timeout=10).status_code == 401
        inactive = requests.post(
            metadata["introspection_endpoint"],
            data={"token": token["access_token"]},
            auth=introspector,
            timeout=10,
        ).json()
        assert inactive == {"active": False}


def test_requests_oauthlib_backend_application_client(
    oauth: OAuth,
    live_server: str,
    registered: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # oauthlib refuses plain http even on loopback unless told otherwise;
    # the live server here is plain http on 127.0.0.1.
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")
    base = live_server + "/api/v1"
    session = RequestsOAuthlibSession(
        client=BackendApplicationClient(client_id=registered["client_id"])
    )
    token = session.fetch_token(
        token_url=base + "/oauth/token",
        auth=HTTPBasicAuth(registered["client_id"], registered["client_secret"]),
    )
    assert set(token["scope"]) == {"policy:read", "rule:read"}
    assert session.get(base + "/policy", timeout=10).status_code == 200
    assert session.get(base + "/rule", timeout=10).status_code == 200
    session.close()


def test_wrong_secret_over_the_socket_is_a_clean_401(
    live_server: str, registered: dict[str, str]
) -> None:
    response = requests.post(
        live_server + "/api/v1/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(registered["client_id"], "wrong"),
        timeout=10,
    )
    assert response.status_code == 401
    assert response.headers["Content-Type"] == "application/json"
    assert response.json()["error"] == "invalid_client"
