"""Get a token with Authlib's OAuth2Session and call a protected route.

    export FIDES_OAUTH_CLIENT_SECRET=...      # never on the command line
    python examples/client.py http://127.0.0.1:5000/api/v1 CLIENT_ID /policy

It discovers the token endpoint from the server's RFC 8414 metadata,
authenticates with HTTP Basic (client_secret_basic), prints the answer of
the protected route, and revokes the token when done.
"""

from __future__ import annotations

import json
import os
import sys

import requests
from authlib.integrations.requests_client import OAuth2Session


def metadata_url(base: str) -> str:
    scheme, _, rest = base.partition("://")
    host, _, path = rest.partition("/")
    suffix = f"/{path}".rstrip("/") if path else ""
    return f"{scheme}://{host}/.well-known/oauth-authorization-server{suffix}"


def main(argv: list[str]) -> int:
    if len(argv) != 4 or "FIDES_OAUTH_CLIENT_SECRET" not in os.environ:
        print(__doc__, file=sys.stderr)
        return 2
    base, client_id, route = argv[1], argv[2], argv[3]
    metadata = requests.get(metadata_url(base), timeout=10).json()
    with OAuth2Session(
        client_id,
        os.environ["FIDES_OAUTH_CLIENT_SECRET"],
        token_endpoint_auth_method="client_secret_basic",  # noqa: S106
    ) as session:
        token = session.fetch_token(
            metadata["token_endpoint"], grant_type="client_credentials"
        )
        response = session.get(base + route, timeout=10)
        print(json.dumps({"status": response.status_code, "body": response.json()}))
        session.revoke_token(metadata["revocation_endpoint"], token["access_token"])
    return 0 if response.ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
