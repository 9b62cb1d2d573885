"""The one place an error becomes a Flask response."""

from __future__ import annotations

import json

from authlib.oauth2 import OAuth2Error
from flask import Response

from .errors import safe_text

__all__ = ["render"]


def render(error: OAuth2Error) -> Response:
    """The single place an error becomes a response."""
    body = dict(error.get_body())
    description = body.get("error_description") or error.get_error_description()
    body["error_description"] = safe_text(
        description or str(error.error).replace("_", " ")
    )
    headers = [(k, v) for k, v in error.get_headers() if k.lower() != "content-type"]
    return Response(
        json.dumps(body),
        status=error.status_code,
        headers=headers,
        mimetype="application/json",
    )
