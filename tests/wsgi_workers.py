"""The reference host as gunicorn serves it in the multi-worker test.

Configured from the environment the test sets; every answer names the
worker process that served it (X-Worker-Pid), so the test can show that a
change made through one worker is honoured by all of them.
"""

from __future__ import annotations

import os
from typing import Any

from examples.host_app import create_app

app = create_app(
    {
        "SQLALCHEMY_DATABASE_URI": os.environ["FIDES_OAUTH_WORKERS_DATABASE_URL"],
        "FIDES_OAUTH_ROOT_CLIENT_ID": os.environ["FIDES_OAUTH_ROOT_CLIENT_ID"],
        "FIDES_OAUTH_ROOT_CLIENT_SECRET": os.environ["FIDES_OAUTH_ROOT_CLIENT_SECRET"],
        "FIDES_OAUTH_KEY_ENCRYPTION_KEY": os.environ["FIDES_OAUTH_KEY_ENCRYPTION_KEY"],
        "FIDES_OAUTH_BCRYPT_ROUNDS": 4,
        "FIDES_OAUTH_ISSUER": os.environ["FIDES_OAUTH_ISSUER"],
        "FIDES_OAUTH_STORAGE_URI": os.environ.get("FIDES_OAUTH_STORAGE_URI") or None,
        # The multi-worker test sends many deliberately failing
        # authentications; others keep the library's default limit.
        "FIDES_OAUTH_AUTH_FAILURE_LIMIT": int(
            os.environ.get("FIDES_OAUTH_WORKERS_FAILURE_LIMIT", "100000")
        ),
    }
)


@app.after_request
def name_the_worker(response: Any) -> Any:
    response.headers["X-Worker-Pid"] = str(os.getpid())
    return response
