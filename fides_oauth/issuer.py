"""The issuer of tokens, for the request at hand (the Flask side).

Configured (``FIDES_OAUTH_ISSUER``), or derived from the request: its root
URL plus the blueprint's prefix. Derivation is worked out once per host and
remembered (a bounded map), so the bearer check does not rebuild URLs.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit
from urllib.parse import urlunsplit

from flask import request

from .cache import BoundedCache

__all__ = ["IssuerRule"]


class IssuerRule:
    def __init__(
        self, configured: str | None, audience: str | None, url_prefix: str
    ) -> None:
        self.configured = configured
        self.configured_audience = audience
        self.url_prefix = url_prefix
        self._derived: BoundedCache[tuple[Any, ...], str] = BoundedCache(64)

    def __repr__(self) -> str:
        return f"<IssuerRule configured={self.configured!r}>"

    def __call__(self) -> str:
        """The ``iss`` of tokens for this request."""
        if self.configured:
            return self.configured
        environ = request.environ
        key = (
            environ.get("wsgi.url_scheme"),
            environ.get("HTTP_HOST"),
            environ.get("SERVER_NAME"),
            environ.get("SERVER_PORT"),
            environ.get("SCRIPT_NAME"),
        )
        derived = self._derived.get(key)
        if derived is None:  # werkzeug works the URL out, once per host
            derived = request.root_url.rstrip("/") + self.url_prefix
            self._derived.put(key, derived)
        return derived

    def audience(self) -> str:
        """The ``aud`` of tokens for this request: configured, or the issuer."""
        return self.configured_audience or self()

    def request_url(self) -> str:
        """The URL a DPoP proof's ``htu`` must name for this request: the
        request's own, as werkzeug sees it (behind a proxy, after ProxyFix),
        with the scheme and host of ``FIDES_OAUTH_ISSUER`` in their place
        when one is configured — the same public origin tokens are issued
        for. Query and fragment play no part."""
        url = request.base_url
        if not self.configured:
            return url
        public = urlsplit(self.configured)
        return urlunsplit((public.scheme, public.netloc, urlsplit(url).path, "", ""))
