"""The reference host app: Fides' OAuth API on Flask-SQLAlchemy.

    flask --app examples/host_app.py run

With no configuration it keeps an SQLite file in the instance folder and
reads the root client from the environment (FIDES_OAUTH_ROOT_CLIENT_ID,
FIDES_OAUTH_ROOT_CLIENT_SECRET), falling back to public demo credentials
that it prints at start-up.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping
from typing import Any

from flask import Blueprint
from flask import Flask
from flask import jsonify
from flask_sqlalchemy import SQLAlchemy

from fides_oauth import FidesOAuth
from fides_oauth import create_tables
from fides_oauth import current_client
from fides_oauth import require_scopes

HOST_SCOPES = [
    "policy:read",
    "policy:create_or_update",
    "rule:read",
    "rule:create_or_update",
]

# Public, documented demo credentials: for trying the quick start only.
DEMO_ROOT_CLIENT_ID = "fidesadmin"
DEMO_ROOT_CLIENT_SECRET = "fidesadminsecret"
DEMO_KEY_ENCRYPTION_KEY = "public-demo-key-encryption-key-never-for-production"

db = SQLAlchemy()
api = Blueprint("host_api", __name__)


@api.get("/health")
def health() -> Any:
    return jsonify({"status": "healthy"})


@api.get("/policy")
@require_scopes("policy:read")
def list_policies() -> Any:
    return jsonify({"items": [], "client_id": current_client.client_id})


@api.get("/rule")
@require_scopes("rule:read")
def list_rules() -> Any:
    return jsonify({"items": [], "client_id": current_client.client_id})


def _root_credentials(app: Flask) -> None:
    """Fill the root client and the key-encryption key from the environment,
    else the demo defaults.

    A key the caller set — even to None — is left alone: None then fails
    start-up with the library's message.
    """
    demo = {
        "FIDES_OAUTH_ROOT_CLIENT_ID": DEMO_ROOT_CLIENT_ID,
        "FIDES_OAUTH_ROOT_CLIENT_SECRET": DEMO_ROOT_CLIENT_SECRET,
    }
    if "FIDES_OAUTH_SIGNING_KEY" not in app.config:
        demo["FIDES_OAUTH_KEY_ENCRYPTION_KEY"] = DEMO_KEY_ENCRYPTION_KEY
    used_demo = False
    for key, default in demo.items():
        if key in app.config:
            continue
        value = os.environ.get(key)
        if not value:
            value, used_demo = default, True
        app.config[key] = value
    if used_demo:
        if not app.debug:
            # Loud, and without the secret: log lines must never carry one.
            logging.getLogger("fides_oauth.host_app").warning(
                "SECURITY WARNING: public demo credentials are in use outside "
                "debug mode; anyone can obtain every scope or open the signing "
                "keys. Set FIDES_OAUTH_ROOT_CLIENT_ID, "
                "FIDES_OAUTH_ROOT_CLIENT_SECRET and FIDES_OAUTH_KEY_ENCRYPTION_KEY."
            )
        print(
            "fides_oauth demo: some settings are missing; using the public demo "
            f"values (root client id={DEMO_ROOT_CLIENT_ID} "
            f"secret={DEMO_ROOT_CLIENT_SECRET}, and a public key-encryption key)."
            " Set FIDES_OAUTH_ROOT_CLIENT_ID, FIDES_OAUTH_ROOT_CLIENT_SECRET and "
            "FIDES_OAUTH_KEY_ENCRYPTION_KEY for anything but a local trial.",
            file=sys.stderr,
        )


def create_app(
    test_config: dict[str, Any] | None = None,
    *,
    oauth_options: Mapping[str, Any] | None = None,
) -> Flask:
    """The app; ``oauth_options`` go to :class:`FidesOAuth` (its seams: a
    clock, an audit sink, a shared-state store), for tests and embedders."""
    app = Flask(__name__, instance_relative_config=True)
    os.makedirs(app.instance_path, exist_ok=True)
    app.config.from_mapping(
        SQLALCHEMY_DATABASE_URI=os.environ.get(
            "DATABASE_URL",
            "sqlite:///" + os.path.join(app.instance_path, "fides_oauth.sqlite"),
        ),
        # Check pooled connections before use, so the app recovers by itself
        # when the database comes back after an outage.
        SQLALCHEMY_ENGINE_OPTIONS={"pool_pre_ping": True},
    )
    if test_config:
        app.config.update(test_config)
    if "FIDES_OAUTH_ADMIN" not in app.config:
        # The admin page, off unless the environment turns it on.
        admin = os.environ.get("FIDES_OAUTH_ADMIN", "").strip().lower()
        app.config["FIDES_OAUTH_ADMIN"] = admin in ("1", "true", "yes", "on")
    _root_credentials(app)

    db.init_app(app)
    app.register_blueprint(
        FidesOAuth(session=db.session, scopes=HOST_SCOPES, **(oauth_options or {})),
        url_prefix="/api/v1",
    )
    app.register_blueprint(api, url_prefix="/api/v1")
    with app.app_context():
        create_tables()
    return app
