"""Pages generated from the code at build time, so the reference cannot drift
from what the library does:

- ``_generated/configuration.md``: every ``FIDES_OAUTH_*`` key, from
  :data:`fides_oauth.settings.SETTINGS`;
- ``_generated/http_api.md``: every route, from the OpenAPI document the
  reference host serves at ``/api/v1/oauth/openapi.json``.

The pages are written before Sphinx reads the sources; ``_generated/`` is not
committed.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from sphinx.application import Sphinx

HERE = Path(__file__).resolve().parent.parent
OUT = HERE / "_generated"

_METHODS = ("get", "post", "put", "patch", "delete")


def _default(value: Any) -> str:
    if isinstance(value, str):
        return f'`"{value}"`'
    return f"`{value!r}`"


def configuration_page() -> str:
    from fides_oauth.settings import SETTINGS

    lines = [
        "| key | default | meaning |",
        "|---|---|---|",
    ]
    for setting in SETTINGS:
        if setting.required == "always":
            default = "required"
        elif setting.required:
            default = f"required {setting.required}"
        else:
            default = _default(setting.default)
        doc = setting.doc.replace("|", "\\|")
        lines.append(f"| `{setting.key}` | {default} | {doc} |")
    return "\n".join(lines) + "\n"


def served_openapi() -> dict[str, Any]:
    """The document as the reference host serves it (a throwaway SQLite
    database, demo settings)."""
    from examples.host_app import create_app

    with tempfile.TemporaryDirectory() as folder:
        app = create_app(
            {
                "SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder}/docs.sqlite",
                "FIDES_OAUTH_ROOT_CLIENT_ID": "docs-root",
                "FIDES_OAUTH_ROOT_CLIENT_SECRET": "docs-root-secret-0123456789",
                "FIDES_OAUTH_KEY_ENCRYPTION_KEY": "d" * 43,
                "FIDES_OAUTH_ISSUER": "https://api.example.com/api/v1",
            }
        )
        response = app.test_client().get("/api/v1/oauth/openapi.json")
        document = response.get_json()
        from examples.host_app import db

        with app.app_context():
            db.engine.dispose()
    assert response.status_code == 200, response.data
    return dict(document)


def _schema_name(schema: dict[str, Any]) -> str:
    ref = schema.get("$ref")
    if ref:
        return "`" + ref.rsplit("/", 1)[-1] + "`"
    if schema.get("type") == "array" and "items" in schema:
        return "array of " + _schema_name(schema["items"])
    return "`" + str(schema.get("type", "object")) + "`"


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _resolve(document: dict[str, Any], item: dict[str, Any]) -> dict[str, Any]:
    """``item``, or what its ``$ref`` points to within ``document``."""
    ref = item.get("$ref")
    if not ref:
        return item
    found: Any = document
    for part in ref.lstrip("#/").split("/"):
        found = found[part]
    return dict(found)


def http_api_page(document: dict[str, Any]) -> str:
    prefix = "/api/v1"
    out = [
        f"Generated from the OpenAPI {document['openapi']} document the reference "
        f"host serves at `{prefix}/oauth/openapi.json` "
        f"({document['info']['title']} {document['info']['version']}). Paths "
        f"below are as served under the prefix `{prefix}`.",
        "",
    ]
    for path, item in document["paths"].items():
        for method in _METHODS:
            operation = item.get(method)
            if operation is None:
                continue
            out.append(f"### `{method.upper()} {path}`")
            out.append("")
            if operation.get("summary"):
                out.append(f"**{operation['summary'].rstrip('.')}.**")
                out.append("")
            if operation.get("description"):
                out.append(operation["description"].strip())
                out.append("")
            security = operation.get("security")
            if security is not None:
                schemes = sorted({name for entry in security for name in entry})
                needs = sorted(
                    {scope for entry in security for v in entry.values() for scope in v}
                )
                said = ", ".join(f"`{s}`" for s in schemes) or "none"
                if needs:
                    said += "; scopes " + ", ".join(f"`{s}`" for s in needs)
                out.append(f"Authentication: {said}.")
                out.append("")
            parameters = [
                _resolve(document, parameter)
                for parameter in operation.get("parameters", [])
                + item.get("parameters", [])
            ]
            if parameters:
                out += ["| parameter | in | required | meaning |", "|---|---|---|---|"]
                for parameter in parameters:
                    out.append(
                        f"| `{parameter['name']}` | {parameter['in']} | "
                        f"{'yes' if parameter.get('required') else 'no'} | "
                        f"{_cell(parameter.get('description', ''))} |"
                    )
                out.append("")
            body = operation.get("requestBody")
            if body:
                kinds = ", ".join(
                    f"`{kind}` ({_schema_name(spec.get('schema', {}))})"
                    for kind, spec in body.get("content", {}).items()
                )
                out.append(f"Request body: {kinds}.")
                out.append("")
            out += ["| status | meaning |", "|---|---|"]
            for status, response in operation.get("responses", {}).items():
                said = _resolve(document, response).get("description", "")
                out.append(f"| {status} | {_cell(said)} |")
            out.append("")
    schemas = document.get("components", {}).get("schemas", {})
    if schemas:
        out += ["## Schemas", ""]
        for name, schema in schemas.items():
            out.append(f"### `{name}`")
            out.append("")
            out.append("```json")
            out.append(json.dumps(schema, indent=2, sort_keys=True))
            out.append("```")
            out.append("")
    return "\n".join(out)


def generate(app: Sphinx) -> None:
    import logging

    # Building the reference host runs its migrations: keep their INFO lines
    # out of the build's output.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    OUT.mkdir(exist_ok=True)
    (OUT / "configuration.md").write_text(configuration_page())
    (OUT / "http_api.md").write_text(http_api_page(served_openapi()))


def setup(app: Sphinx) -> dict[str, Any]:
    app.connect("builder-inited", generate)
    return {"parallel_read_safe": True, "version": "1"}


def _cli() -> Any:
    """The ``flask fides-oauth`` group as a host app shows it (sphinx-click
    documents it from here)."""
    import click

    from fides_oauth.cli import COMMANDS
    from fides_oauth.cli import GROUP_HELP

    return click.Group(
        "fides-oauth", help=GROUP_HELP, commands={c.name: c for c in COMMANDS}
    )


CLI = _cli()
