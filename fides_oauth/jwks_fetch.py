"""Fetching a client's ``jwks_uri``, hardened against SSRF (CONTRACT §7).

- ``https`` only (``http`` to a loopback address only when
  ``FIDES_OAUTH_JWKS_URI_ALLOW_LOOPBACK_HTTP`` is set, for tests).
- The host is resolved here and every address checked: private,
  link-local, loopback (unless allowed), multicast, reserved and
  unspecified addresses are refused; the connection goes to the checked
  address (no second lookup an attacker's DNS could answer differently).
- About 2 s to connect and per read, 5 s in all; at most 64 KiB; no
  redirects at all; the answer must be a JWK Set of public signing keys.
- Answers are cached for their ``Cache-Control: max-age`` within 60 s to
  1 h (5 min without one); an unknown ``kid`` refetches, at most once per
  10 s per URI.

Any failure is :class:`FetchFailed`, which the caller turns into the same
``invalid_client`` as any failed authentication.
"""

from __future__ import annotations

import http.client
import ipaddress
import json
import re
import socket
import ssl
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from .client_metadata import check_jwks
from .errors import UnprocessableError

__all__ = ["FetchFailed", "JwksFetcher"]

_MAX_AGE = re.compile(r"max-age\s*=\s*(\d+)")


class FetchFailed(Exception):
    """A jwks_uri could not be used (the reason is for the log)."""


class JwksFetcher:
    def __init__(
        self,
        allow_loopback_http: bool = False,
        clock: Callable[[], float] = time.time,
        timeout: float = 2.0,
        deadline: float = 5.0,
        max_bytes: int = 64 * 1024,
        ttl_bounds: tuple[int, int] = (60, 3600),
        default_ttl: int = 300,
        refetch_interval: float = 10.0,
    ) -> None:
        self._loopback = allow_loopback_http
        self._clock = clock
        self._timeout = timeout
        self._deadline = deadline
        self._max_bytes = max_bytes
        self._ttl_bounds = ttl_bounds
        self._default_ttl = default_ttl
        self._refetch_interval = refetch_interval
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[dict[str, Any], float]] = {}
        self._forced: dict[str, float] = {}

    def __repr__(self) -> str:
        return f"<JwksFetcher cached={len(self._cache)}>"

    def keys(self, uri: str, refresh: bool = False) -> dict[str, Any]:
        """The JWK Set at ``uri``: cached, or fetched now. ``refresh`` (an
        unknown kid) refetches, at most once per interval."""
        now = self._clock()
        with self._lock:
            cached = self._cache.get(uri)
            if refresh and now - self._forced.get(uri, 0.0) < self._refetch_interval:
                refresh = False  # refetched a moment ago: use what we have
            if refresh:
                self._forced[uri] = now
        if cached is not None and cached[1] > now and not refresh:
            return cached[0]
        jwks, ttl = self._fetch(uri)
        with self._lock:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[uri] = (jwks, now + ttl)
        return jwks

    def _fetch(self, uri: str) -> tuple[dict[str, Any], int]:
        parts = urlsplit(uri)
        host, scheme = parts.hostname, parts.scheme
        if not host or scheme not in ("https", "http"):
            raise FetchFailed("not an https URL")
        port = parts.port or (443 if scheme == "https" else 80)
        address = self._vetted_address(host, port, scheme)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        connection = _connection(scheme, host, address, port, self._timeout)
        started = time.monotonic()
        try:
            connection.request(
                "GET",
                path,
                headers={"Host": parts.netloc, "Accept": "application/json"},
            )
            response = connection.getresponse()
            if response.status != 200:  # redirects included: never followed
                raise FetchFailed(f"answered {response.status}")
            body = b""
            while True:
                chunk = response.read(8192)
                if not chunk:
                    break
                body += chunk
                if len(body) > self._max_bytes:
                    raise FetchFailed("larger than the size cap")
                if time.monotonic() - started > self._deadline:
                    raise FetchFailed("too slow")
            cache_control = response.getheader("Cache-Control") or ""
        except (OSError, http.client.HTTPException) as exc:
            raise FetchFailed(f"{type(exc).__name__}") from exc
        finally:
            connection.close()
        try:
            jwks = check_jwks(json.loads(body))
        except (ValueError, UnprocessableError) as exc:
            raise FetchFailed("not a JWK Set of public signing keys") from exc
        return jwks, self._ttl(cache_control)

    def _ttl(self, cache_control: str) -> int:
        low, high = self._ttl_bounds
        found = _MAX_AGE.search(cache_control)
        if "no-store" in cache_control or "no-cache" in cache_control:
            return low
        return min(high, max(low, int(found.group(1)))) if found else self._default_ttl

    def _vetted_address(self, host: str, port: int, scheme: str) -> str:
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError as exc:
            raise FetchFailed("host does not resolve") from exc
        addresses = [str(info[4][0]) for info in infos]
        for text in addresses:
            address = ipaddress.ip_address(text.split("%")[0])
            if address.is_loopback:
                if not self._loopback:
                    raise FetchFailed("a loopback address")
            elif (
                address.is_private
                or address.is_link_local
                or address.is_multicast
                or address.is_reserved
                or address.is_unspecified
            ):
                raise FetchFailed("a private or reserved address")
            elif scheme != "https":
                raise FetchFailed("plain http to a public address")
        if not addresses:
            raise FetchFailed("host does not resolve")
        return addresses[0]


class _PinnedHTTPS(http.client.HTTPSConnection):
    """HTTPS to a checked address, verifying the certificate for the host."""

    def __init__(self, host: str, address: str, port: int, timeout: float) -> None:
        super().__init__(
            host, port, timeout=timeout, context=ssl.create_default_context()
        )
        self._address = address

    def connect(self) -> None:
        raw = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(raw, server_hostname=self.host)  # type: ignore[attr-defined]


class _PinnedHTTP(http.client.HTTPConnection):
    def __init__(self, host: str, address: str, port: int, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


def _connection(
    scheme: str, host: str, address: str, port: int, timeout: float
) -> http.client.HTTPConnection:
    cls = _PinnedHTTPS if scheme == "https" else _PinnedHTTP
    return cls(host, address, port, timeout)
