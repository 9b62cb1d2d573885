"""The reference host app: Fides' OAuth API on Flask-SQLAlchemy.

    flask --app examples/host_app.py run

With no configuration it keeps an SQLite file in the instance folder and
reads the root client from the environment (FIDES_OAUTH_ROOT_CLIENT_ID,
FIDES_OAUTH_ROOT_CLIENT_SECRET), falling back to public demo credentials
that it prints at start-up.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import click
from flask import Blueprint
from flask import Flask
from flask import jsonify
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import SingletonThreadPool
from sqlalchemy.pool import StaticPool

from fides_oauth import FidesOAuth
from fides_oauth import create_tables
from fides_oauth import current_client
from fides_oauth import require_scopes
from fides_oauth.settings import SETTINGS

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

#: The instance folder, next to this file.
_INSTANCE = str(Path(__file__).resolve().parent / "instance")

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


#: The settings that fall back to a public demo value, and that value.
_DEMO_FALLBACKS = {
    "FIDES_OAUTH_ROOT_CLIENT_ID": DEMO_ROOT_CLIENT_ID,
    "FIDES_OAUTH_ROOT_CLIENT_SECRET": DEMO_ROOT_CLIENT_SECRET,
    "FIDES_OAUTH_KEY_ENCRYPTION_KEY": DEMO_KEY_ENCRYPTION_KEY,
}
#: Said once per process, not once per app built (tests build many).
_told: set[str] = set()


#: Read from the environment by their own rules (demo fallbacks, a boolean).
_OWN_RULES = frozenset(_DEMO_FALLBACKS) | {"FIDES_OAUTH_ADMIN"}


def _settings_from_environment(app: Flask) -> None:
    """Every other library setting found in the environment, its value read
    as JSON when it parses (``1000``, ``true``, ``["a", "b"]``) and as the
    string otherwise — what Flask's ``from_prefixed_env`` does — so a
    server started with ``gunicorn`` is configured without code. An empty
    variable counts as unset, as for the root credentials."""
    for setting in SETTINGS:
        value = os.environ.get(setting.key)
        if not value or setting.key in _OWN_RULES:
            continue  # unset and empty alike: the library's default
        try:
            app.config[setting.key] = json.loads(value)
        except ValueError:
            app.config[setting.key] = value


def _root_credentials(app: Flask) -> None:
    """Fill the root client and the key-encryption key from the environment,
    else the demo defaults, and say which were taken from where.

    A key the caller set — even to None — is left alone: None then fails
    start-up with the library's message.
    """
    wanted = dict(_DEMO_FALLBACKS)
    if "FIDES_OAUTH_SIGNING_KEY" in app.config:
        del wanted["FIDES_OAUTH_KEY_ENCRYPTION_KEY"]
    demo: list[str] = []
    for key, default in wanted.items():
        if key in app.config:
            continue
        value = os.environ.get(key)
        if not value:
            value = default
            demo.append(key)
        app.config[key] = value
    if demo:
        _say_once(_demo_notice(app, demo), warn=not app.debug)


def _demo_notice(app: Flask, demo: list[str]) -> str:
    """What is in use, in words: never a secret, except the public demo one."""
    root = app.config["FIDES_OAUTH_ROOT_CLIENT_ID"]
    parts = [f"root client id {root!r}"]
    if "FIDES_OAUTH_ROOT_CLIENT_ID" not in demo:
        parts[0] += " (from the environment)"
    if "FIDES_OAUTH_ROOT_CLIENT_SECRET" in demo:
        parts.append(f"the public demo secret {DEMO_ROOT_CLIENT_SECRET!r}")
    if "FIDES_OAUTH_KEY_ENCRYPTION_KEY" in demo:
        parts.append("the public demo key-encryption key")
    return (
        "fides_oauth demo: "
        + ", ".join(demo)
        + " not set; using "
        + ", ".join(parts)
        + ". Set them for anything but a local trial."
    )


def _say_once(message: str, *, warn: bool) -> None:
    """Print ``message`` once per process, on stderr; as a logged warning too
    outside debug mode. Quiet for ``flask`` commands other than ``run``, so
    scripts calling the CLI get their output only."""
    if message in _told:
        return
    _told.add(message)
    context = click.get_current_context(silent=True)
    if context is not None and context.info_name not in (None, "run"):
        return
    if warn:
        logging.getLogger("fides_oauth.host_app").warning(
            "SECURITY WARNING: public demo settings are in use outside debug "
            "mode; anyone can obtain every scope or open the signing keys."
        )
    print(message, file=sys.stderr)


def _log_audit_at_info() -> None:
    """Show the audit trail (``fides_oauth.audit``, INFO, never a secret) in
    the server's log: a handler of its own when logging is not configured
    (gunicorn and ``flask run`` leave the root logger bare), else the
    host's handlers receive it."""
    audit = logging.getLogger("fides_oauth.audit")
    if audit.level == logging.NOTSET:  # a level the host set stays
        audit.setLevel(logging.INFO)
    if audit.handlers or logging.getLogger().handlers:
        return
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(message)s"))
    audit.addHandler(handler)
    # Its own handler: not also the root's, should the host configure that
    # later (each line would then print twice).
    audit.propagate = False


def create_app(
    test_config: dict[str, Any] | None = None,
    *,
    oauth_options: Mapping[str, Any] | None = None,
) -> Flask:
    """The app; ``oauth_options`` go to :class:`FidesOAuth` (its seams: a
    clock, an audit sink, a shared-state store), for tests and embedders."""
    # One instance folder (and SQLite file) however the module is loaded:
    # `flask --app examples/host_app.py` and `gunicorn examples.host_app:...`
    # would otherwise each derive their own.
    app = Flask(__name__, instance_path=_INSTANCE, instance_relative_config=True)
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
    _settings_from_environment(app)
    if test_config:
        app.config.update(test_config)
    if "FIDES_OAUTH_ADMIN" not in app.config:
        # The admin page, off unless the environment turns it on.
        admin = os.environ.get("FIDES_OAUTH_ADMIN", "").strip().lower()
        app.config["FIDES_OAUTH_ADMIN"] = admin in ("1", "true", "yes", "on")
    _root_credentials(app)
    _log_audit_at_info()

    db.init_app(app)
    app.register_blueprint(
        FidesOAuth(session=db.session, scopes=HOST_SCOPES, **(oauth_options or {})),
        url_prefix="/api/v1",
    )
    app.register_blueprint(api, url_prefix="/api/v1")
    with app.app_context():
        try:
            create_tables()
        except (RuntimeError, SQLAlchemyError, OSError) as error:
            _fail_in_one_line(error)
            raise
        if not isinstance(db.engine.pool, (StaticPool, SingletonThreadPool)):
            # Close what start-up opened: under `gunicorn --preload` this runs
            # in the master, and workers forked with its pooled connections
            # would share their server sessions.
            db.engine.dispose()
    return app


def _fail_in_one_line(error: Exception) -> None:
    """Under a ``flask`` command, a start-up failure (a key-encryption key
    that opens no stored key, a database that cannot be reached or read) is
    one line, as the library's commands answer; a server shows the
    traceback, as servers do."""
    context = click.get_current_context(silent=True)
    if context is None or context.info_name in (None, "run"):
        return
    message = str(error).strip().splitlines()[0] if str(error).strip() else ""
    raise click.ClickException(
        f"the app could not start: {type(error).__name__}: {message}"
    ) from None
