"""An app that already has its own models and Flask-Migrate, with
fides_oauth added in a few lines (marked below).

    export FLASK_APP=examples/existing_app/app.py
    flask db upgrade                  # the app's own tables (its migrations/)
    flask fides-oauth db upgrade      # the library's tables (their own history)
    flask fides-oauth create-client --scope books:read
    flask run
"""

from __future__ import annotations

import os
from typing import Any

from flask import Blueprint
from flask import Flask
from flask import jsonify
from flask import request
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import String
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from fides_oauth import FidesOAuth  # fides_oauth: 1/3
from fides_oauth import current_client
from fides_oauth import require_scopes

db = SQLAlchemy()
migrate = Migrate(directory=os.path.join(os.path.dirname(__file__), "migrations"))
books = Blueprint("books", __name__)


class Book(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "books"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))


@books.get("/books")
@require_scopes("books:read")
def list_books() -> Any:
    titles = [book.title for book in db.session.scalars(db.select(Book))]
    return jsonify({"books": titles, "reader": current_client.client_id})


@books.post("/books")
@require_scopes("books:write")
def add_book() -> Any:
    book = Book(title=str((request.get_json(silent=True) or {}).get("title", ""))[:200])
    db.session.add(book)
    db.session.commit()
    return jsonify({"id": book.id}), 201


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    app = Flask(__name__, instance_relative_config=True)
    os.makedirs(app.instance_path, exist_ok=True)
    app.config.from_mapping(
        SQLALCHEMY_DATABASE_URI=os.environ.get(
            "DATABASE_URL",
            "sqlite:///" + os.path.join(app.instance_path, "books.sqlite"),
        ),
        FIDES_OAUTH_ROOT_CLIENT_ID=os.environ.get("FIDES_OAUTH_ROOT_CLIENT_ID"),
        FIDES_OAUTH_ROOT_CLIENT_SECRET=os.environ.get("FIDES_OAUTH_ROOT_CLIENT_SECRET"),
        FIDES_OAUTH_KEY_ENCRYPTION_KEY=os.environ.get("FIDES_OAUTH_KEY_ENCRYPTION_KEY"),
    )
    app.config.update(test_config or {})
    db.init_app(app)
    migrate.init_app(app, db)
    app.register_blueprint(books)
    # fides_oauth: 2/3 — the blueprint, on the app's own session.
    app.register_blueprint(
        FidesOAuth(session=db.session, scopes=["books:read", "books:write"]),
        url_prefix="/auth",
    )
    # fides_oauth: 3/3 — its tables come from `flask fides-oauth db upgrade`,
    # and migrations/env.py keeps them out of the app's own autogenerate.
    return app
