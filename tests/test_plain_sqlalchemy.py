"""A host on plain SQLAlchemy (engine + scoped_session), without Flask-SQLAlchemy."""

from __future__ import annotations

from typing import Any

from flask import jsonify

from fides_oauth import current_client
from fides_oauth import require_scopes
from tests.conftest import ROOT_ID
from tests.conftest import ROOT_SECRET
from tests.conftest import bearer


def test_full_flow_on_a_scoped_session(make_plain_app: Any) -> None:
    app = make_plain_app(prefix="/oauth-api")

    @app.get("/reports")
    @require_scopes("report:read")
    def reports() -> Any:
        return jsonify({"caller": current_client.client_id})

    http = app.test_client()
    root = http.post(
        "/oauth-api/oauth/token",
        data={"client_id": ROOT_ID, "client_secret": ROOT_SECRET},
    ).get_json()["access_token"]
    created = http.post(
        "/oauth-api/oauth/client", json=["report:read"], headers=bearer(root)
    ).get_json()
    token = http.post(
        "/oauth-api/oauth/token",
        data={
            "client_id": created["client_id"],
            "client_secret": created["client_secret"],
        },
    ).get_json()["access_token"]
    response = http.get("/reports", headers=bearer(token))
    assert response.status_code == 200
    assert response.get_json() == {"caller": created["client_id"]}

    listed = http.get("/oauth-api/oauth/client", headers=bearer(root)).get_json()
    assert [item["client_id"] for item in listed["items"]] == [created["client_id"]]

    assert (
        http.delete(
            f"/oauth-api/oauth/client/{created['client_id']}", headers=bearer(root)
        ).status_code
        == 204
    )
    assert http.get("/reports", headers=bearer(token)).status_code == 401
