"""A resource server in another process, verifying fides_oauth tokens with
joserfc and the standard library alone — no fides_oauth import.

It discovers the authorization server (RFC 8414), fetches its JWK Set,
and checks each token's ES256 signature, ``typ``, ``iss``, ``aud``, ``exp``
and scope. It cannot see the client's current state: a token stays valid
here until it expires even if its client is deleted or its scopes are cut.
When that matters, ask the authorization server's introspection endpoint
(RFC 7662) instead, or keep token lifetimes short.

    python examples/resource_server.py http://127.0.0.1:5000/api/v1 TOKEN

prints the token's claims if it is valid for the scope ``policy:read``.
"""

from __future__ import annotations

import json
import sys
import threading
import time
import urllib.request
from typing import Any

from joserfc import jwt
from joserfc.errors import InvalidKeyIdError
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from joserfc.jwt import JWTClaimsRegistry


def _get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310
        return json.load(response)


def well_known_url(issuer: str) -> str:
    """RFC 8414 §3: the path of the issuer goes after the well-known part."""
    scheme, _, rest = issuer.partition("://")
    host, _, path = rest.partition("/")
    suffix = f"/{path}".rstrip("/") if path else ""
    return f"{scheme}://{host}/.well-known/oauth-authorization-server{suffix}"


class TokenVerifier:
    """Verifies access tokens against an issuer's published keys."""

    def __init__(self, issuer: str, audience: str | None = None) -> None:
        metadata = _get_json(well_known_url(issuer))
        if metadata["issuer"] != issuer:
            raise ValueError("the metadata names another issuer")
        self.issuer = issuer
        self.audience = audience or issuer
        self.jwks_uri = metadata["jwks_uri"]
        self._lock = threading.Lock()
        self._keys = KeySet.import_key_set(_get_json(self.jwks_uri))
        self._fetched_at = time.monotonic()

    def _refresh(self) -> None:
        with self._lock:
            if time.monotonic() - self._fetched_at > 5:  # at most every 5 s
                self._keys = KeySet.import_key_set(_get_json(self.jwks_uri))
                self._fetched_at = time.monotonic()

    def verify(
        self, token: str, required_scopes: tuple[str, ...] = ()
    ) -> dict[str, Any]:
        """The token's claims, or ValueError saying why it is refused."""
        try:
            try:
                decoded = jwt.decode(token, self._keys, algorithms=["ES256"])
            except InvalidKeyIdError:
                self._refresh()  # a key rotation: fetch the new set once
                decoded = jwt.decode(token, self._keys, algorithms=["ES256"])
        except (JoseError, ValueError) as exc:
            raise ValueError("bad signature or malformed token") from exc
        if decoded.header.get("typ") != "at+jwt":
            raise ValueError("not an access token (typ)")
        registry = JWTClaimsRegistry(
            iss={"essential": True, "value": self.issuer},
            aud={"essential": True, "value": self.audience},
            exp={"essential": True},
            client_id={"essential": True},
        )
        try:
            registry.validate(decoded.claims)
        except JoseError as exc:
            raise ValueError(f"claims refused: {exc}") from exc
        scopes = set(str(decoded.claims.get("scope", "")).split())
        missing = set(required_scopes) - scopes
        if missing:
            raise ValueError(f"missing scopes: {' '.join(sorted(missing))}")
        return dict(decoded.claims)


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    issuer, token = argv[1], argv[2]
    try:
        claims = TokenVerifier(issuer).verify(token, ("policy:read",))
    except ValueError as exc:
        print(json.dumps({"valid": False, "reason": str(exc)}))
        return 1
    print(json.dumps({"valid": True, "claims": claims}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
