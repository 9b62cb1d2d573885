"""A client's jwks_uri: fetched with SSRF guards, cached, refetched once on
an unknown kid; any failure is invalid_client and never hangs the worker.

The JWK Set is served by a local HTTP server the test starts (plain http on
loopback, which FIDES_OAUTH_JWKS_URI_ALLOW_LOOPBACK_HTTP allows for tests).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from http.server import ThreadingHTTPServer
from typing import Any

import pytest

from fides_oauth.jwks_fetch import FetchFailed
from fides_oauth.jwks_fetch import JwksFetcher
from tests.conftest import OAuth
from tests.conftest import assert_error
from tests.test_private_key_jwt import Signer
from tests.test_private_key_jwt import _token


class JwksServer:
    """Serves ``body`` at /jwks (or whatever ``status``, ``delay``,
    ``headers`` say), counting the requests."""

    def __init__(self) -> None:
        self.body: bytes = b"{}"
        self.status = 200
        self.delay = 0.0
        self.headers: dict[str, str] = {}
        self.hits = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.hits += 1
                time.sleep(outer.delay)
                self.send_response(outer.status)
                for name, value in outer.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(outer.body)))
                self.end_headers()
                self.wfile.write(outer.body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/jwks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def serve(self, *signers: Signer) -> None:
        self.body = json.dumps({"keys": [s.jwk for s in signers]}).encode()


@pytest.fixture
def jwks_server() -> Iterator[JwksServer]:
    server = JwksServer()
    yield server
    server.server.shutdown()
    server.server.server_close()


@pytest.fixture
def loopback(make_app: Any) -> OAuth:
    app = make_app(FIDES_OAUTH_JWKS_URI_ALLOW_LOOPBACK_HTTP=True)
    return OAuth(app, app.test_client())


def _register(oauth: OAuth, uri: str) -> str:
    created = oauth.create_client(
        ["policy:read"], token_endpoint_auth_method="private_key_jwt", jwks_uri=uri
    )
    return str(created["client_id"])


def test_keys_come_from_the_uri_and_are_cached(
    loopback: OAuth, jwks_server: JwksServer
) -> None:
    signer = Signer()
    jwks_server.serve(signer)
    jwks_server.headers = {"Cache-Control": "max-age=600"}
    client_id = _register(loopback, jwks_server.url)
    for _ in range(3):
        assert _token(loopback, signer.assertion(client_id)).status_code == 200
    assert jwks_server.hits == 1


def test_an_unknown_kid_refetches_once(
    loopback: OAuth, jwks_server: JwksServer
) -> None:
    old, new = Signer(kid="old"), Signer(kid="new")
    jwks_server.serve(old)
    client_id = _register(loopback, jwks_server.url)
    assert _token(loopback, old.assertion(client_id)).status_code == 200
    jwks_server.serve(new)  # the client rotated its key
    assert _token(loopback, new.assertion(client_id)).status_code == 200
    assert jwks_server.hits == 2
    # A kid that is nowhere: one more fetch at most within the interval.
    stranger = Signer(kid="stranger")
    for _ in range(3):
        assert_error(
            _token(loopback, stranger.assertion(client_id)), 401, "invalid_client"
        )
    assert jwks_server.hits <= 3


@pytest.mark.parametrize(
    "setup",
    [
        lambda s: setattr(s, "body", b'{"keys": [' + b" " * 70_000 + b"]}"),
        lambda s: (
            setattr(s, "status", 302),
            s.headers.update(Location="http://127.0.0.1:1/"),
        ),
        lambda s: setattr(s, "status", 500),
        lambda s: setattr(s, "body", b"not json"),
        lambda s: setattr(s, "delay", 3.0),
    ],
    ids=["too-large", "redirect", "server-error", "not-json", "too-slow"],
)
def test_a_failed_fetch_is_invalid_client(
    loopback: OAuth,
    jwks_server: JwksServer,
    setup: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    signer = Signer()
    jwks_server.serve(signer)
    client_id = _register(loopback, jwks_server.url)
    setup(jwks_server)
    started = time.monotonic()
    assertion = signer.assertion(client_id)
    with caplog.at_level(logging.WARNING, logger="fides_oauth"):
        assert_error(_token(loopback, assertion), 401, "invalid_client")
    assert time.monotonic() - started < 5  # never hangs the worker
    # The operator is told, without the assertion.
    logged = [r.getMessage() for r in caplog.records if r.name == "fides_oauth"]
    assert any("jwks_uri" in line and client_id in line for line in logged)
    assert not any(assertion in line for line in logged)


def test_private_keys_served_at_the_uri_are_refused(
    loopback: OAuth, jwks_server: JwksServer
) -> None:
    signer = Signer()
    private = dict(signer.jwk)
    private["d"] = "AAAA"
    jwks_server.body = json.dumps({"keys": [private]}).encode()
    client_id = _register(loopback, jwks_server.url)
    assert_error(_token(loopback, signer.assertion(client_id)), 401, "invalid_client")


@pytest.mark.parametrize(
    "uri",
    [
        "https://10.1.2.3/jwks",
        "https://192.168.0.1/jwks",
        "https://169.254.169.254/latest",
        "https://[fd00::1]/jwks",
        "https://127.0.0.1/jwks",  # loopback without the test switch
        "http://93.184.216.34/jwks",  # plain http to a public address
    ],
)
def test_addresses_are_refused_before_any_connection(uri: str) -> None:
    fetcher = JwksFetcher(allow_loopback_http=False)
    with pytest.raises(FetchFailed):
        fetcher.keys(uri)


@pytest.mark.parametrize(
    "uri",
    [
        "http://example.com/jwks",
        "ftp://example.com/jwks",
        "https://user:pw@example.com/j",
    ],
)
def test_registration_refuses_non_https_uris(oauth: OAuth, uri: str) -> None:
    before = oauth.snapshot()
    response = oauth.http.post(
        "/api/v1/oauth/client",
        json={
            "scopes": [],
            "token_endpoint_auth_method": "private_key_jwt",
            "jwks_uri": uri,
        },
        headers=oauth.root_headers(),
    )
    assert_error(response, 422)
    assert oauth.snapshot() == before
