"""DPoP proofs for API callers (RFC 9449), with ``requests`` or ``httpx``.

A bearer token works for whoever holds it: one leaked through a log, a proxy
or a crash dump is as good as the client's own. A DPoP-bound token is tied
to a key pair the client keeps, and every request carries a fresh *proof*
(a JWS over method, URL and token, signed with that key): a stolen token is
useless without the private key, and a proof is not valid for another URL.

Usage (for ``httpx``: ``auth=dpop_httpx_auth(key, access_token)``)::

    from fides_oauth.client import DPoPAuth, DPoPKey, fetch_token

    key = DPoPKey.generate()  # ES256; or DPoPKey.load("dpop-key.pem")
    with requests.Session() as session:
        token = fetch_token(session, token_url, key, client_id=cid,
                            client_secret=secret, scope="read")
        session.get(api_url, auth=DPoPAuth(key, token["access_token"]))

The auths send ``Authorization: DPoP <token>`` (or HTTP Basic, RFC 6749
§2.3.1) with a fresh proof, keep each server's latest ``DPoP-Nonce`` on the
key, and answer a nonce challenge (RFC 9449 §8, §9) by sending the request
once more. ``requests`` and ``httpx`` are optional; secrets and tokens never
show in messages or reprs.
"""

from __future__ import annotations

import base64
import importlib
import re
import secrets
import threading
import time
from collections.abc import Generator
from collections.abc import Mapping
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING
from typing import Any
from typing import Protocol
from urllib.parse import quote
from urllib.parse import urlsplit
from urllib.parse import urlunsplit

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from joserfc import jwt
from joserfc.jwk import ECKey
from joserfc.jwk import JWKRegistry
from joserfc.jwk import OKPKey
from joserfc.jwk import RSAKey

from .client_metadata import verification_registry
from .dpop import access_token_hash

if TYPE_CHECKING:
    import httpx
    import requests
    from httpx import Auth as _HttpxAuthBase
    from httpx import Client as _HttpxClient
    from requests.auth import AuthBase as _RequestsAuthBase
else:

    def _optional(module: str, name: str) -> Any:
        try:
            return getattr(importlib.import_module(module), name)
        except ImportError:
            return object

    _RequestsAuthBase = _optional("requests.auth", "AuthBase")
    _HttpxAuthBase = _optional("httpx", "Auth")
    _HttpxClient = _optional("httpx", "Client")

__all__ = [
    "ALGORITHMS",
    "DPoPAuth",
    "DPoPHttpxAuth",
    "DPoPKey",
    "DPoPTokenError",
    "dpop_httpx_auth",
    "fetch_token",
    "jwk_thumbprint",
]

#: The proof algorithms, each with the key type (and curve) it needs.
ALGORITHMS = {
    "ES256": ("EC", "P-256"),
    "ES384": ("EC", "P-384"),
    "RS256": ("RSA", None),
    "PS256": ("RSA", None),
    "EdDSA": ("OKP", "Ed25519"),
}
_REQUIRED = {"EC": ("crv", "kty", "x", "y"), "RSA": ("e", "kty", "n")}
_REQUIRED["OKP"] = ("crv", "kty", "x")
_NONCE = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]{1,512}")  # RFC 9449 §8: NQCHAR
_ERROR = re.compile(r"[\x20\x21\x23-\x5b\x5d-\x7e]{1,64}")  # RFC 6749 §5.2
_CHALLENGE = re.compile(r'\berror\s*=\s*"?use_dpop_nonce\b')


def jwk_thumbprint(jwk: Mapping[str, Any]) -> str:
    """The RFC 7638 SHA-256 thumbprint (``jkt``) of a public JWK, base64url
    (joserfc's, the one the server compares with)."""
    return str(JWKRegistry.import_key(dict(jwk)).thumbprint())


class DPoPKey:
    """A private key and the algorithm its DPoP proofs are signed with."""

    def __init__(self, key: ECKey | RSAKey | OKPKey, alg: str) -> None:
        kty, curve = ALGORITHMS.get(alg, ("?", None))
        public = key.as_dict(private=False)
        if public.get("kty") != kty or public.get("crv") != curve:
            raise ValueError(f"{alg!r} does not fit this {public.get('kty')} key")
        if not key.is_private:
            raise ValueError("a DPoP key must be a private key")
        if isinstance(key, RSAKey) and key.raw_value.key_size < 2048:
            raise ValueError("an RSA key needs at least 2048 bits")
        self._key, self.alg = key, alg
        self.public_jwk: dict[str, Any] = {m: public[m] for m in _REQUIRED[kty]}
        self.thumbprint = str(key.thumbprint())
        # Each server's latest DPoP-Nonce, kept with the key so every auth
        # object (and fetch_token) made with it shares them.
        self._nonces: dict[str, str] = {}
        self._lock = threading.Lock()

    def nonce_for(self, url: str) -> str | None:
        """The latest nonce the server of ``url`` gave this key's requests."""
        with self._lock:
            return self._nonces.get(_origin(url))

    def remember_nonce(self, url: str, nonce: str) -> None:
        with self._lock:
            self._nonces[_origin(url)] = nonce

    @classmethod
    def generate(cls, alg: str = "ES256") -> DPoPKey:
        """A new key for ``alg`` (RSA keys have 2048 bits)."""
        kty, curve = ALGORITHMS.get(alg, ("?", None))
        if kty == "EC":
            return cls(ECKey.generate_key(curve), alg)
        if kty == "RSA":
            return cls(RSAKey.generate_key(2048), alg)
        if kty == "OKP":
            return cls(OKPKey.generate_key("Ed25519"), alg)
        raise ValueError(f"unsupported DPoP algorithm {alg!r}")

    @classmethod
    def from_pem(cls, pem: bytes, alg: str | None = None) -> DPoPKey:
        """A key from an unencrypted private key PEM; ``alg`` defaults to
        ES256 or ES384 by curve, RS256 for RSA and EdDSA for Ed25519."""
        raw = load_pem_private_key(pem, password=None)
        if isinstance(raw, rsa.RSAPrivateKey) and raw.key_size < 2048:
            raise ValueError("an RSA key needs at least 2048 bits")
        if isinstance(raw, ec.EllipticCurvePrivateKey):
            names = {"secp256r1": "ES256", "secp384r1": "ES384"}
            return cls(ECKey.import_key(pem), alg or names.get(raw.curve.name, "?"))
        if isinstance(raw, rsa.RSAPrivateKey):
            return cls(RSAKey.import_key(pem), alg or "RS256")
        if isinstance(raw, ed25519.Ed25519PrivateKey):
            return cls(OKPKey.import_key(pem), alg or "EdDSA")
        raise ValueError("unsupported private key type for DPoP")

    @classmethod
    def load(cls, path: str | Path, alg: str | None = None) -> DPoPKey:
        """A key from a private key PEM file (see :meth:`from_pem`)."""
        return cls.from_pem(Path(path).read_bytes(), alg)

    def to_pem(self) -> bytes:
        """The private key as unencrypted PKCS #8 PEM: keep it secret."""
        return self._key.as_pem(private=True)

    def proof(
        self,
        method: str,
        url: str,
        *,
        access_token: str | None = None,
        nonce: str | None = None,
    ) -> str:
        """A DPoP proof JWT for one request (RFC 9449 §4.2): ``htu`` is the
        URL without query or fragment; ``ath`` binds ``access_token``."""
        parts = urlsplit(url)
        # No userinfo: a password in the URL must not travel in the proof.
        host = (
            f"[{parts.hostname}]" if ":" in (parts.hostname or "") else parts.hostname
        )
        netloc = f"{host}:{parts.port}" if parts.port is not None else str(host)
        claims: dict[str, Any] = {
            "jti": secrets.token_urlsafe(16),
            "htm": method.upper(),
            "htu": urlunsplit((parts.scheme, netloc, parts.path, "", "")),
            "iat": int(time.time()),
        }
        if access_token is not None:
            claims["ath"] = access_token_hash(access_token)
        if nonce is not None:
            claims["nonce"] = nonce
        header = {"typ": "dpop+jwt", "alg": self.alg, "jwk": self.public_jwk}
        registry = verification_registry(self.alg)  # EdDSA without a warning
        return jwt.encode(header, claims, self._key, registry=registry)

    def __repr__(self) -> str:
        return f"DPoPKey(alg={self.alg!r}, thumbprint={self.thumbprint!r})"


class _Response(Protocol):
    """What the retry rule reads of a ``requests`` or ``httpx`` response."""

    @property
    def status_code(self) -> int: ...
    @property
    def headers(self) -> Mapping[str, str]: ...
    def json(self) -> Any: ...


def _origin(url: str) -> str:
    """``scheme://host:port``, the scope of a server's nonce."""
    parts = urlsplit(url)
    port = parts.port or {"http": 80, "https": 443}.get(parts.scheme.lower())
    return f"{parts.scheme.lower()}://{parts.hostname}:{port}"


class _DPoP:
    """What the two auths share: headers, nonces and the retry rule."""

    def __init__(
        self,
        key: DPoPKey,
        access_token: str | None = None,
        *,
        client_id: str | None = None,
        client_secret: str | None = None,
    ) -> None:
        self.key, self._token = key, access_token
        self._authorization: str | None = None
        if access_token is not None:
            self._authorization = f"DPoP {access_token}"
        elif client_id is not None and client_secret is not None:
            # RFC 6749 §2.3.1 form-encodes both parts; quote() leaves no '+'
            # for a space, so servers that decode with unquote (Authlib) or
            # unquote_plus read the same value.
            pair = f"{quote(client_id, safe='')}:{quote(client_secret, safe='')}"
            basic = base64.b64encode(pair.encode("ascii")).decode("ascii")
            self._authorization = f"Basic {basic}"
        elif client_id is not None or client_secret is not None:
            raise ValueError("client_id and client_secret go together")

    def _sign(self, method: str, url: str) -> tuple[dict[str, str], str | None]:
        """The headers for a request, and the nonce its proof carries."""
        nonce = self.key.nonce_for(url)
        proof = self.key.proof(method, url, access_token=self._token, nonce=nonce)
        headers = {"DPoP": proof}
        if self._authorization is not None:
            headers["Authorization"] = self._authorization
        return headers, nonce

    def _remember(self, url: str, headers: Mapping[str, str]) -> str | None:
        """Keep a response's ``DPoP-Nonce`` for its origin; return it."""
        nonce = headers.get("DPoP-Nonce")
        if nonce is None or not _NONCE.fullmatch(nonce):
            return None
        self.key.remember_nonce(url, nonce)
        return nonce

    def _retry(self, url: str, response: _Response, sent: str | None) -> bool:
        """Whether a response is a nonce challenge worth one more try: it
        names a nonce, other than the one the proof carried."""
        nonce, headers = self._remember(url, response.headers), response.headers
        if nonce is None or nonce == sent:
            return False
        if response.status_code == 401:
            return bool(_CHALLENGE.search(headers.get("WWW-Authenticate", "")))
        try:
            document = response.json() if response.status_code == 400 else None
        except ValueError:
            return False
        return isinstance(document, dict) and document.get("error") == "use_dpop_nonce"

    def __repr__(self) -> str:
        kind = "token" if self._token else "basic" if self._authorization else ""
        return f"{type(self).__name__}({self.key!r}{', ' + kind if kind else ''})"


class DPoPAuth(_DPoP, _RequestsAuthBase):
    """``requests`` authentication with DPoP proofs (see the module)."""

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        headers, sent = self._sign(str(r.method), str(r.url))
        r.headers.update(headers)
        tell = getattr(r.body, "tell", None)
        position = tell() if tell is not None else None
        r.register_hook("response", partial(self._handle, sent, position))
        return r

    def _handle(
        self,
        sent: str | None,
        position: int | None,
        r: requests.Response,
        **kwargs: Any,
    ) -> requests.Response:
        """A response hook, in the pattern of ``HTTPDigestAuth.handle_401``;
        the new response comes from the adapter, so no hook runs again."""
        url = str(r.request.url)
        if not self._retry(url, r, sent):
            return r
        seek = getattr(r.request.body, "seek", None)
        if position is not None and seek is not None:
            seek(position)
        r.content  # noqa: B018 - consume, so the connection can be reused
        r.close()
        prep = r.request.copy()
        jar = prep._cookies  # as HTTPDigestAuth does
        if jar is not None:
            from requests.cookies import extract_cookies_to_jar

            extract_cookies_to_jar(jar, r.request, r.raw)
            prep.prepare_cookies(jar)
        prep.headers.update(self._sign(str(prep.method), url)[0])
        retried: requests.Response = r.connection.send(prep, **kwargs)
        retried.history.append(r)
        retried.request = prep
        self._remember(url, retried.headers)
        return retried


class DPoPHttpxAuth(_DPoP, _HttpxAuthBase):
    """``httpx`` auth with DPoP proofs, for ``Client`` and ``AsyncClient``."""

    requires_response_body = True

    def auth_flow(
        self, request: httpx.Request
    ) -> Generator[httpx.Request, httpx.Response, None]:
        url = str(request.url)
        headers, sent = self._sign(request.method, url)
        request.headers.update(headers)
        response = yield request
        if self._retry(url, response, sent):
            request.headers.update(self._sign(request.method, url)[0])
            response = yield request
        self._remember(url, response.headers)


#: :class:`DPoPHttpxAuth` by the name of a factory of ``httpx.Auth``.
dpop_httpx_auth = DPoPHttpxAuth


class DPoPTokenError(RuntimeError):
    """A failed token request: its HTTP ``status`` and OAuth ``error`` code."""

    def __init__(self, status: int, error: str | None, message: str) -> None:
        super().__init__(message)
        self.status, self.error = status, error


def fetch_token(
    session: requests.Session | httpx.Client,
    token_url: str,
    key: DPoPKey,
    *,
    client_id: str,
    client_secret: str,
    scope: str | None = None,
    timeout: float = 10.0,
) -> dict[str, Any]:
    """The JSON response of a ``client_credentials`` grant, on a
    ``requests.Session`` or an ``httpx.Client`` (told apart by type). Raises
    :class:`DPoPTokenError` for a status but 200, or a response without an
    ``access_token`` of ``token_type`` DPoP (a bearer token is not bound)."""
    form = {"grant_type": "client_credentials"}
    form |= {"scope": scope} if scope is not None else {}
    httpx_client = _HttpxClient is not object and isinstance(session, _HttpxClient)
    kind: type[_DPoP] = DPoPHttpxAuth if httpx_client else DPoPAuth
    auth: Any = kind(key, client_id=client_id, client_secret=client_secret)
    response = session.post(token_url, data=form, auth=auth, timeout=timeout)
    try:
        document = response.json()
    except ValueError:
        document = {}
    document = document if isinstance(document, dict) else {}
    error = document.get("error")
    error = error if isinstance(error, str) and _ERROR.fullmatch(error) else None
    if response.status_code != 200:
        reason = f" ({error})" if error else ""
        message = f"token request failed: HTTP {response.status_code}{reason}"
        raise DPoPTokenError(response.status_code, error, message)
    bound = str(document.get("token_type")).lower() == "dpop"
    if not bound or not isinstance(document.get("access_token"), str):
        message = "the token response has no DPoP-bound access token"
        raise DPoPTokenError(response.status_code, None, message)
    return document
