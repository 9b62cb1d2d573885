"""The DPoP client helper (fides_oauth.client; RFC 9449), on its own.

Proofs are decoded and verified with PyJWT, independent of the joserfc that
signs them; thumbprints are checked against RFC 7638's worked example and a
hashlib computation. The transports run against a local ``http.server``
that plays a token endpoint and a resource asking for DPoP nonces.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import io
import itertools
import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs
from urllib.parse import quote_plus
from urllib.parse import unquote_plus
from urllib.parse import urlsplit

import httpx
import jwt as pyjwt
import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.hazmat.primitives.asymmetric import rsa

from fides_oauth.client import DPoPAuth
from fides_oauth.client import DPoPHttpxAuth
from fides_oauth.client import DPoPKey
from fides_oauth.client import DPoPTokenError
from fides_oauth.client import dpop_httpx_auth
from fides_oauth.client import fetch_token
from fides_oauth.client import jwk_thumbprint

ALGORITHMS = ["ES256", "ES384", "RS256", "PS256", "EdDSA"]
PRIVATE_MEMBERS = {"d", "p", "q", "dp", "dq", "qi", "oth", "k"}
ACCESS_TOKEN = "at-0123456789.abcdef"
#: A client id and secret that need form-encoding in HTTP Basic.
CLIENT_ID = "tenant:app%1 é"
CLIENT_SECRET = "s3cr:et%2F+/ü-never-shown"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _ath(token: str) -> str:
    return _b64(hashlib.sha256(token.encode("ascii")).digest())


def _verify(proof: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Header and claims of a proof, its signature checked by PyJWT with the
    key its own header carries."""
    header = pyjwt.get_unverified_header(proof)
    key = pyjwt.PyJWK(header["jwk"], algorithm=header["alg"])
    claims = pyjwt.decode(proof, key=key, algorithms=[header["alg"]])
    return header, claims


@pytest.fixture(scope="module")
def keys() -> dict[str, DPoPKey]:
    return {alg: DPoPKey.generate(alg) for alg in ALGORITHMS}


# -- proofs ---------------------------------------------------------------------


@pytest.mark.parametrize("alg", ALGORITHMS)
def test_a_proof_verifies_with_pyjwt(keys: dict[str, DPoPKey], alg: str) -> None:
    key = keys[alg]
    url = "https://api.example:8443/v1/things?page=2&q=x#frag"
    before = time.time()
    proof = key.proof("post", url, access_token=ACCESS_TOKEN, nonce="n-1")
    header, claims = _verify(proof)
    assert header["typ"] == "dpop+jwt"
    assert header["alg"] == alg
    assert not PRIVATE_MEMBERS & set(header["jwk"])
    assert header["jwk"] == key.public_jwk
    assert jwk_thumbprint(header["jwk"]) == key.thumbprint
    assert claims["htm"] == "POST"
    assert claims["htu"] == "https://api.example:8443/v1/things"
    assert before - 1 <= claims["iat"] <= time.time() + 1
    assert isinstance(claims["jti"], str)
    assert len(claims["jti"]) >= 16
    assert claims["ath"] == _ath(ACCESS_TOKEN)
    assert claims["nonce"] == "n-1"
    assert set(claims) == {"jti", "htm", "htu", "iat", "ath", "nonce"}


@pytest.mark.parametrize("alg", ALGORITHMS)
def test_ath_and_nonce_only_when_given(keys: dict[str, DPoPKey], alg: str) -> None:
    _, claims = _verify(keys[alg].proof("GET", "http://127.0.0.1:8080/"))
    assert set(claims) == {"jti", "htm", "htu", "iat"}
    _, claims = _verify(keys[alg].proof("GET", "http://h/", nonce="abc"))
    assert claims["nonce"] == "abc"
    assert "ath" not in claims


def test_jti_is_unique_across_proofs(keys: dict[str, DPoPKey]) -> None:
    proofs = [keys["ES256"].proof("GET", "https://a.example/") for _ in range(200)]
    jtis = {_verify(proof)[1]["jti"] for proof in proofs}
    assert len(jtis) == 200


@pytest.mark.parametrize(
    ("url", "htu"),
    [
        ("https://a.example/p?x=1", "https://a.example/p"),
        ("https://a.example/p#top", "https://a.example/p"),
        ("https://a.example/p/?x=1&y=2#top", "https://a.example/p/"),
        ("http://127.0.0.1:5000/oauth/token", "http://127.0.0.1:5000/oauth/token"),
    ],
)
def test_htu_has_no_query_or_fragment(
    keys: dict[str, DPoPKey], url: str, htu: str
) -> None:
    assert _verify(keys["ES256"].proof("GET", url))[1]["htu"] == htu


# -- thumbprints and keys -------------------------------------------------------

#: RFC 7638 §3.1: the RSA key of the worked example and its thumbprint.
RFC7638_JWK = {
    "kty": "RSA",
    "n": (
        "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFx"
        "uhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_"
        "RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQ"
        "vRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G"
        "_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"
    ),
    "e": "AQAB",
    "alg": "RS256",
    "kid": "2011-04-29",
}
RFC7638_THUMBPRINT = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"


def test_thumbprint_of_the_rfc_7638_example() -> None:
    assert jwk_thumbprint(RFC7638_JWK) == RFC7638_THUMBPRINT


def test_an_ec_thumbprint_matches_an_independent_computation() -> None:
    key = DPoPKey.generate("ES256")
    private = serialization.load_pem_private_key(key.to_pem(), password=None)
    assert isinstance(private, ec.EllipticCurvePrivateKey)
    numbers = private.public_key().public_numbers()
    x = _b64(numbers.x.to_bytes(32, "big"))
    y = _b64(numbers.y.to_bytes(32, "big"))
    canonical = f'{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}'
    expected = _b64(hashlib.sha256(canonical.encode("ascii")).digest())
    assert key.thumbprint == expected
    assert key.public_jwk == {"crv": "P-256", "kty": "EC", "x": x, "y": y}


@pytest.mark.parametrize("alg", ALGORITHMS)
def test_pem_round_trip_keeps_the_thumbprint(
    keys: dict[str, DPoPKey], alg: str, tmp_path: Path
) -> None:
    key = keys[alg]
    pem = key.to_pem()
    assert pem.startswith(b"-----BEGIN PRIVATE KEY-----")
    again = DPoPKey.from_pem(pem, alg=alg)
    path = tmp_path / "dpop.pem"
    path.write_bytes(pem)
    loaded = DPoPKey.load(path, alg=alg)
    assert again.thumbprint == loaded.thumbprint == key.thumbprint
    assert loaded.alg == alg
    _verify(loaded.proof("GET", "https://a.example/"))
    text = repr(key)
    assert text == f"DPoPKey(alg={alg!r}, thumbprint={key.thumbprint!r})"
    assert "PRIVATE" not in text


def _pem(private: Any) -> bytes:
    pem: bytes = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return pem


@pytest.mark.parametrize(
    ("make", "alg"),
    [
        (lambda: ec.generate_private_key(ec.SECP256R1()), "ES256"),
        (lambda: ec.generate_private_key(ec.SECP384R1()), "ES384"),
        (lambda: rsa.generate_private_key(65537, 2048), "RS256"),
        (ed25519.Ed25519PrivateKey.generate, "EdDSA"),
    ],
    ids=["P-256", "P-384", "RSA", "Ed25519"],
)
def test_from_pem_infers_the_algorithm(make: Any, alg: str) -> None:
    key = DPoPKey.from_pem(_pem(make()))
    assert key.alg == alg
    assert _verify(key.proof("GET", "https://a.example/"))[0]["alg"] == alg


def test_an_rsa_key_may_sign_ps256() -> None:
    key = DPoPKey.from_pem(_pem(rsa.generate_private_key(65537, 2048)), alg="PS256")
    assert _verify(key.proof("GET", "https://a.example/"))[0]["alg"] == "PS256"


@pytest.mark.parametrize(
    ("pem", "alg"),
    [
        (lambda: _pem(ec.generate_private_key(ec.SECP256R1())), "RS256"),
        (lambda: _pem(ec.generate_private_key(ec.SECP256R1())), "ES384"),
        (lambda: _pem(ec.generate_private_key(ec.SECP521R1())), None),
        (lambda: _pem(rsa.generate_private_key(65537, 1024)), None),  # noqa: S505
        (lambda: _pem(ed25519.Ed25519PrivateKey.generate()), "ES256"),
        (lambda: _pem(rsa.generate_private_key(65537, 2048)), "HS256"),
    ],
    ids=["ec-as-rsa", "p256-as-es384", "p521", "rsa-1024", "ed-as-ec", "hmac"],
)
def test_unfit_keys_and_algorithms_are_refused(pem: Any, alg: str | None) -> None:
    with pytest.raises(ValueError, match=r"fit|bits"):
        DPoPKey.from_pem(pem(), alg=alg)


def test_public_keys_and_unknown_algorithms_are_refused() -> None:
    public = ec.generate_private_key(ec.SECP256R1()).public_key()
    pem = public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    with pytest.raises(ValueError):  # noqa: PT011 - cryptography's message
        DPoPKey.from_pem(pem)
    with pytest.raises(ValueError, match="unsupported"):
        DPoPKey.generate("HS256")


def test_reprs_hide_tokens_and_secrets(keys: dict[str, DPoPKey]) -> None:
    key = keys["ES256"]
    for auth in (
        DPoPAuth(key, ACCESS_TOKEN),
        DPoPAuth(key, client_id=CLIENT_ID, client_secret=CLIENT_SECRET),
        DPoPHttpxAuth(key, ACCESS_TOKEN),
        dpop_httpx_auth(key, client_id=CLIENT_ID, client_secret=CLIENT_SECRET),
    ):
        text = repr(auth)
        assert key.thumbprint in text
        for secret in (ACCESS_TOKEN, CLIENT_SECRET, quote_plus(CLIENT_SECRET)):
            assert secret not in text
    with pytest.raises(ValueError, match="together"):
        DPoPAuth(key, client_id=CLIENT_ID)


def test_the_module_imports_without_requests_or_httpx() -> None:
    code = (
        "import sys\n"
        "sys.modules['requests'] = sys.modules['httpx'] = None\n"
        "from fides_oauth.client import DPoPAuth, DPoPKey\n"
        "key = DPoPKey.generate()\n"
        "assert key.proof('GET', 'https://a.example/').count('.') == 2\n"
        "assert callable(DPoPAuth(key, 'tok'))\n"
    )
    root = Path(__file__).resolve().parent.parent
    subprocess.run([sys.executable, "-c", code], check=True, cwd=root)


# -- a local server that asks for nonces ----------------------------------------


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    proof: dict[str, Any]


class NonceServer(ThreadingHTTPServer):
    """``/token*`` answers like a token endpoint, ``/resource*`` like a
    protected resource: both ask for ``nonce`` until a proof carries it.
    ``*-always`` asks every time, with a new nonce; ``*-same`` every time,
    with the same one; ``/token-bad`` is a plain invalid_client and
    ``/token-bearer`` issues a bearer token."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), NonceHandler)
        self.seen: list[Seen] = []
        self.nonce = "nonce-" + str(id(self))
        self.counter = itertools.count()
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class NonceHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: NonceServer

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def _serve(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        proof = self.headers.get("DPoP", "")
        claims = pyjwt.decode(proof, options={"verify_signature": False})
        path = urlsplit(self.path).path
        with self.server.lock:
            self.server.seen.append(
                Seen(self.command, self.path, dict(self.headers), body, claims)
            )
            nonce = self.server.nonce
            if path.endswith("-always"):
                nonce = f"always-{next(self.server.counter)}"
        satisfied = claims.get("nonce") == nonce and not path.endswith("-same")
        if path == "/token-bad":
            self._send(401, {"error": "invalid_client"})
        elif path == "/token-bearer":
            self._send(200, {"access_token": "x", "token_type": "Bearer"})
        elif path.startswith("/token") and satisfied:
            document = {"access_token": ACCESS_TOKEN, "token_type": "DPoP"}
            self._send(200, document | {"expires_in": 3600}, nonce)
        elif path.startswith("/token"):
            self._send(400, {"error": "use_dpop_nonce"}, nonce)
        elif satisfied:
            self._send(200, {"ok": True}, nonce)
        else:
            challenge = 'DPoP algs="ES256", error="use_dpop_nonce"'
            self._send(401, {}, nonce, challenge)

    def _send(
        self,
        status: int,
        document: dict[str, Any],
        nonce: str | None = None,
        challenge: str | None = None,
    ) -> None:
        data = json.dumps(document).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        if nonce is not None:
            self.send_header("DPoP-Nonce", nonce)
        if challenge is not None:
            self.send_header("WWW-Authenticate", challenge)
        self.end_headers()
        self.wfile.write(data)


def _start() -> NonceServer:
    server = NonceServer()
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    return server


@pytest.fixture
def server() -> Iterator[NonceServer]:
    server = _start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def key() -> DPoPKey:
    return DPoPKey.generate()


def _check_token_flow(server: NonceServer, key: DPoPKey, token: dict[str, Any]) -> None:
    assert token["token_type"] == "DPoP"
    assert token["access_token"] == ACCESS_TOKEN
    first, second = server.seen  # exactly one retry
    for seen in (first, second):
        assert seen.method == "POST"
        assert seen.path == "/token"
        assert parse_qs(seen.body.decode()) == {
            "grant_type": ["client_credentials"],
            "scope": ["read write"],
        }
        scheme, _, encoded = seen.headers["Authorization"].partition(" ")
        assert scheme == "Basic"
        user, _, password = base64.b64decode(encoded).decode().partition(":")
        assert (unquote_plus(user), unquote_plus(password)) == (
            CLIENT_ID,
            CLIENT_SECRET,
        )
        header, claims = _verify(seen.headers["DPoP"])
        assert jwk_thumbprint(header["jwk"]) == key.thumbprint
        assert claims["htm"] == "POST"
        assert claims["htu"] == server.url + "/token"
        assert "ath" not in claims
    assert "nonce" not in first.proof
    assert second.proof["nonce"] == server.nonce
    assert first.proof["jti"] != second.proof["jti"]


def _check_resource_flow(server: NonceServer, path: str = "/resource") -> None:
    first, second = server.seen  # exactly one retry
    for seen in (first, second):
        assert seen.headers["Authorization"] == f"DPoP {ACCESS_TOKEN}"
        _, claims = _verify(seen.headers["DPoP"])
        assert claims["ath"] == _ath(ACCESS_TOKEN)
        assert claims["htu"] == server.url + path
    assert "nonce" not in first.proof
    assert second.proof["nonce"] == server.nonce
    assert first.proof["jti"] != second.proof["jti"]


# -- requests -------------------------------------------------------------------


def test_requests_token_endpoint_nonce(server: NonceServer, key: DPoPKey) -> None:
    with requests.Session() as session:
        token = fetch_token(
            session,
            server.url + "/token",
            key,
            client_id=CLIENT_ID,
            client_secret=CLIENT_SECRET,
            scope="read write",
        )
    _check_token_flow(server, key, token)


def test_requests_resource_nonce(server: NonceServer, key: DPoPKey) -> None:
    auth = DPoPAuth(key, ACCESS_TOKEN)
    with requests.Session() as session:
        response = session.get(server.url + "/resource?page=2#top", auth=auth)
        assert response.status_code == 200
        assert [r.status_code for r in response.history] == [401]
        _check_resource_flow(server)
        # The nonce is remembered: the next call carries it from the start.
        response = session.post(server.url + "/resource", auth=auth, data=b"x")
    assert response.status_code == 200
    assert len(server.seen) == 3
    assert server.seen[2].proof["nonce"] == server.nonce
    assert server.seen[2].proof["htm"] == "POST"


def test_requests_retry_resends_a_file_body(server: NonceServer, key: DPoPKey) -> None:
    with requests.Session() as session:
        response = session.post(
            server.url + "/resource",
            data=io.BytesIO(b"payload"),
            auth=DPoPAuth(key, ACCESS_TOKEN),
        )
    assert response.status_code == 200
    assert [seen.body for seen in server.seen] == [b"payload", b"payload"]


@pytest.mark.parametrize("path", ["/resource-always", "/resource-same"])
def test_requests_never_loops(server: NonceServer, key: DPoPKey, path: str) -> None:
    auth = DPoPAuth(key, ACCESS_TOKEN)
    with requests.Session() as session:
        response = session.get(server.url + path, auth=auth)
        assert response.status_code == 401
        assert len(server.seen) == 2
        sent = "always-0" if path.endswith("always") else server.nonce
        assert server.seen[1].proof["nonce"] == sent
        session.get(server.url + path, auth=auth)
    # Asked again for the nonce the proof already carried: no retry.
    assert len(server.seen) == (4 if path.endswith("always") else 3)


def test_requests_nonces_are_kept_per_origin(key: DPoPKey) -> None:
    one, two = _start(), _start()
    try:
        auth = DPoPAuth(key, ACCESS_TOKEN)
        with requests.Session() as session:
            session.get(one.url + "/resource", auth=auth)
            session.get(two.url + "/resource", auth=auth)
        assert "nonce" not in two.seen[0].proof
        assert two.seen[1].proof["nonce"] == two.nonce != one.nonce
    finally:
        for server in (one, two):
            server.shutdown()
            server.server_close()


@pytest.mark.parametrize(
    ("path", "status", "error", "requests_made"),
    [
        ("/token-always", 400, "use_dpop_nonce", 2),
        ("/token-bad", 401, "invalid_client", 1),
        ("/token-bearer", 200, None, 1),
    ],
)
def test_fetch_token_failures(
    server: NonceServer,
    key: DPoPKey,
    path: str,
    status: int,
    error: str | None,
    requests_made: int,
) -> None:
    with requests.Session() as session, pytest.raises(DPoPTokenError) as caught:
        fetch_token(
            session,
            server.url + path,
            key,
            client_id=CLIENT_ID,
            client_secret=CLIENT_SECRET,
        )
    assert caught.value.status == status
    assert caught.value.error == error
    assert len(server.seen) == requests_made
    for text in (str(caught.value), repr(caught.value)):
        assert CLIENT_SECRET not in text
        assert quote_plus(CLIENT_SECRET) not in text
        assert "Basic" not in text


# -- httpx ----------------------------------------------------------------------


def test_httpx_token_endpoint_nonce(server: NonceServer, key: DPoPKey) -> None:
    with httpx.Client() as client:
        token = fetch_token(
            client,
            server.url + "/token",
            key,
            client_id=CLIENT_ID,
            client_secret=CLIENT_SECRET,
            scope="read write",
        )
    _check_token_flow(server, key, token)


def test_httpx_resource_nonce(server: NonceServer, key: DPoPKey) -> None:
    with httpx.Client(auth=dpop_httpx_auth(key, ACCESS_TOKEN)) as client:
        response = client.get(server.url + "/resource?page=2")
    assert response.status_code == 200
    assert [r.status_code for r in response.history] == [401]
    _check_resource_flow(server)


def test_httpx_never_loops(server: NonceServer, key: DPoPKey) -> None:
    with httpx.Client(auth=DPoPHttpxAuth(key, ACCESS_TOKEN)) as client:
        response = client.get(server.url + "/resource-always")
    assert response.status_code == 401
    assert len(server.seen) == 2


def test_httpx_async_nonce_flows(server: NonceServer, key: DPoPKey) -> None:
    async def run() -> list[httpx.Response]:
        token_auth = dpop_httpx_auth(
            key, client_id=CLIENT_ID, client_secret=CLIENT_SECRET
        )
        form = {"grant_type": "client_credentials", "scope": "read write"}
        async with httpx.AsyncClient() as client:
            token = await client.post(server.url + "/token", data=form, auth=token_auth)
            auth = dpop_httpx_auth(key, token.json()["access_token"])
            resource = await client.get(server.url + "/resource", auth=auth)
            always = await client.get(server.url + "/resource-always", auth=auth)
        return [token, resource, always]

    token, resource, always = asyncio.run(run())
    assert token.status_code == 200
    assert resource.status_code == 200
    assert always.status_code == 401
    seen = server.seen
    assert len(seen) == 5
    server.seen = seen[:2]
    _check_token_flow(server, key, token.json())
    # The key keeps the origin's nonce, for every auth made with it: the
    # resource call needs no retry, and another path starts with it too.
    assert (seen[2].path, seen[2].proof["nonce"]) == ("/resource", server.nonce)
    assert seen[3].proof["nonce"] == server.nonce
    assert seen[4].proof["nonce"] == "always-0"


# -- against the library's own server -------------------------------------------


@pytest.fixture(params=[False, True], ids=["no-nonce", "nonce"])
def served(request: pytest.FixtureRequest, make_app: Any) -> Iterator[tuple[str, Any]]:
    """The reference host on a real socket, with or without required nonces;
    its base URL and a client id and secret holding policy:read."""
    from werkzeug.serving import make_server

    from tests.conftest import OAuth

    app = make_app(FIDES_OAUTH_DPOP_REQUIRE_NONCE=request.param)
    created = OAuth(app, app.test_client()).create_client(["policy:read"])
    http = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{http.server_port}/api/v1", created
    finally:
        http.shutdown()
        thread.join(timeout=10)


def test_requests_against_the_server(served: tuple[str, Any], key: DPoPKey) -> None:
    """Get a bound token and call a protected route, nonces and all."""
    import requests

    api, created = served
    with requests.Session() as session:
        token = fetch_token(
            session,
            api + "/oauth/token",
            key,
            client_id=created["client_id"],
            client_secret=created["client_secret"],
        )
        assert token["token_type"] == "DPoP"
        auth = DPoPAuth(key, token["access_token"])
        for _ in range(3):
            assert session.get(api + "/policy", auth=auth).status_code == 200
        # Without the key's proofs the token is refused.
        plain = {"Authorization": "Bearer " + token["access_token"]}
        assert session.get(api + "/policy", headers=plain).status_code == 401
        thief = DPoPAuth(DPoPKey.generate(), token["access_token"])
        assert session.get(api + "/policy", auth=thief).status_code == 401


def test_httpx_against_the_server(served: tuple[str, Any], key: DPoPKey) -> None:
    import httpx

    api, created = served
    with httpx.Client() as session:
        token = fetch_token(
            session,
            api + "/oauth/token",
            key,
            client_id=created["client_id"],
            client_secret=created["client_secret"],
        )
        auth = dpop_httpx_auth(key, token["access_token"])
        assert session.get(api + "/policy", auth=auth).status_code == 200

    async def call() -> int:
        async with httpx.AsyncClient() as client:
            response = await client.get(api + "/policy", auth=auth)
            return response.status_code

    assert asyncio.run(call()) == 200


def test_basic_credentials_round_trip_through_the_server(make_app: Any) -> None:
    """RFC 6749 §2.3.1 form-encodes the Basic credentials: a secret with a
    space, a plus and a colon reaches the library's server intact."""
    from werkzeug.serving import make_server

    secret = "root secret+with:odd chars 0123"
    app = make_app(FIDES_OAUTH_ROOT_CLIENT_SECRET=secret)
    http = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{http.server_port}/api/v1/oauth/token"
        with requests.Session() as session:
            token = fetch_token(
                session,
                url,
                DPoPKey.generate(),
                client_id="root-client-for-tests",
                client_secret=secret,
            )
        assert token["token_type"] == "DPoP"
    finally:
        http.shutdown()
        thread.join(timeout=10)


def test_userinfo_never_reaches_the_proof(key: DPoPKey) -> None:
    proof = key.proof("GET", "https://user:hunter2@api.example.com:8443/x?q=1")
    _, claims = _verify(proof)
    assert claims["htu"] == "https://api.example.com:8443/x"
