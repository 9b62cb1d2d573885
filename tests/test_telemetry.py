"""OpenTelemetry metrics and spans, read back with the SDK's in-memory
reader and exporter; and a no-op without opentelemetry-api."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from fides_oauth.telemetry import Telemetry
from tests.conftest import ROOT_ID
from tests.conftest import ROOT_SECRET
from tests.conftest import OAuth
from tests.conftest import basic
from tests.conftest import bearer


class Pipeline:
    """An SDK meter and tracer whose output the test reads."""

    def __init__(self) -> None:
        self.reader = InMemoryMetricReader()
        self.spans = InMemorySpanExporter()
        tracer_provider = TracerProvider()
        tracer_provider.add_span_processor(SimpleSpanProcessor(self.spans))
        self.telemetry = Telemetry(
            meter_provider=MeterProvider(metric_readers=[self.reader]),
            tracer_provider=tracer_provider,
        )

    def points(self, name: str) -> dict[tuple[tuple[str, Any], ...], Any]:
        """Each data point of metric ``name``, by its sorted attributes."""
        found: dict[tuple[tuple[str, Any], ...], Any] = {}
        data = self.reader.get_metrics_data()
        for resource in data.resource_metrics if data else []:
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    if metric.name == name:
                        for point in metric.data.data_points:
                            found[tuple(sorted(point.attributes.items()))] = point
        return found

    def counts(self, name: str) -> dict[tuple[str, str], int]:
        return {
            (dict(key)["outcome"], dict(key).get("reason", "")): point.value
            for key, point in self.points(name).items()
        }


@pytest.fixture
def pipeline() -> Pipeline:
    return Pipeline()


@pytest.fixture
def traced(make_app: Any, pipeline: Pipeline) -> Flask:
    return make_app(telemetry=pipeline.telemetry)


def test_token_requests_are_counted_by_outcome_and_reason(
    traced: Flask, pipeline: Pipeline
) -> None:
    oauth = OAuth(traced, traced.test_client())
    client_id, secret, _ = oauth.client_with(["policy:read"])  # the root's token too
    token = oauth.http.post
    token("/api/v1/oauth/token", headers=basic(client_id, "wrong"))
    token("/api/v1/oauth/token", json={"client_id": client_id})
    token(
        "/api/v1/oauth/token",
        data={"grant_type": "password"},
        headers=basic(client_id, secret),
    )
    assert pipeline.counts("fides_oauth.token.requests") == {
        ("issued", "issued"): 2,
        ("refused", "invalid_client"): 1,
        ("refused", "invalid_request"): 1,
        ("refused", "unsupported_grant_type"): 1,
    }
    durations = pipeline.points("fides_oauth.token.duration")
    assert sum(point.count for point in durations.values()) == 5
    assert all(point.sum > 0 for point in durations.values())
    spans = [
        s for s in pipeline.spans.get_finished_spans() if s.name == "fides_oauth.token"
    ]
    assert len(spans) == 5
    assert {s.attributes["fides_oauth.reason"] for s in spans} >= {"invalid_client"}


def test_bearer_checks_are_counted_by_outcome_and_reason(
    traced: Flask, pipeline: Pipeline
) -> None:
    oauth = OAuth(traced, traced.test_client())
    _, _, reader = oauth.client_with(["rule:read"])
    http = oauth.http
    http.get("/api/v1/rule", headers=reader)
    http.get("/api/v1/policy", headers=reader)
    http.get("/api/v1/rule")
    http.get("/api/v1/rule", headers=bearer("not.a.token"))
    counts = pipeline.counts("fides_oauth.bearer.checks")
    assert counts[("allowed", "allowed")] >= 1
    assert counts[("refused", "insufficient_scope")] == 1
    assert counts[("refused", "invalid_token")] == 1
    assert sum(v for (outcome, _), v in counts.items() if outcome == "refused") == 3


def test_management_changes_get_a_span_and_a_count(
    traced: Flask, pipeline: Pipeline
) -> None:
    oauth = OAuth(traced, traced.test_client())
    created = oauth.create_client(["policy:read"])
    headers = oauth.root_headers()
    oauth.http.delete(f"/api/v1/oauth/client/{created['client_id']}", headers=headers)
    events = {
        dict(key)["event"]: point.value
        for key, point in pipeline.points("fides_oauth.client.changes").items()
    }
    assert events == {"client_created": 1, "client_deleted": 1}
    spans = {s.name: s for s in pipeline.spans.get_finished_spans()}
    assert spans["fides_oauth.client_deleted"].attributes == {
        "fides_oauth.client_id": created["client_id"]
    }


def test_no_secret_or_token_in_any_attribute(traced: Flask, pipeline: Pipeline) -> None:
    oauth = OAuth(traced, traced.test_client())
    _, secret, headers = oauth.client_with(["policy:read"])
    oauth.http.get("/api/v1/policy", headers=headers)
    token = headers["Authorization"].split()[1]
    seen = [str(s.attributes) for s in pipeline.spans.get_finished_spans()]
    data = pipeline.reader.get_metrics_data()
    seen.append(data.to_json() if data else "")
    for text in seen:
        for secret_value in (secret, token, ROOT_SECRET):
            assert secret_value not in text
    assert ROOT_ID  # the root's id may appear; its secret never


def test_without_the_api_everything_still_works(tmp_path: Path) -> None:
    """opentelemetry-api is optional: with it unimportable, the library
    imports, and a token request and a protected route work."""
    script = f"""
import sys
sys.modules["opentelemetry"] = None  # as if it were not installed
from fides_oauth import telemetry
assert not telemetry.AVAILABLE
from examples.host_app import create_app
app = create_app({{
    "SQLALCHEMY_DATABASE_URI": "sqlite:///{tmp_path}/x.sqlite",
    "FIDES_OAUTH_ROOT_CLIENT_ID": "root-client-x",
    "FIDES_OAUTH_ROOT_CLIENT_SECRET": "root-secret-0123456789",
    "FIDES_OAUTH_KEY_ENCRYPTION_KEY": "k" * 43,
    "FIDES_OAUTH_BCRYPT_ROUNDS": 4,
}})
http = app.test_client()
r = http.post("/api/v1/oauth/token", data={{"client_id": "root-client-x",
    "client_secret": "root-secret-0123456789"}})
assert r.status_code == 200, r.data
token = r.get_json()["access_token"]
assert http.get("/api/v1/policy",
    headers={{"Authorization": "Bearer " + token}}).status_code == 200
print("ok")
"""
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=Path(__file__).resolve().parent.parent,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


def test_an_oversized_token_request_is_recorded_as_what_it_answered(
    make_app: Any, pipeline: Pipeline
) -> None:
    app = make_app(telemetry=pipeline.telemetry, FIDES_OAUTH_MAX_BODY_BYTES=1024)
    response = app.test_client().post(
        "/api/v1/oauth/token", data={"client_id": "x", "padding": "p" * 4096}
    )
    assert response.status_code == 413
    assert pipeline.counts("fides_oauth.token.requests") == {
        ("refused", "invalid_request"): 1
    }
    (span,) = [
        s for s in pipeline.spans.get_finished_spans() if s.name == "fides_oauth.token"
    ]
    assert span.attributes["http.response.status_code"] == 413


def test_a_change_that_did_not_commit_is_not_counted(
    core_kit: Any, clock: Any, pipeline: Pipeline
) -> None:
    """A change is counted once it committed: with the change counter's
    UPDATE refused by the database at commit, the scope change fails, is not
    counted, and its span records the error."""
    from sqlalchemy import text
    from sqlalchemy.exc import SQLAlchemyError

    from fides_oauth.bodies import ClientSpec
    from fides_oauth.management import Actor
    from fides_oauth.management import Management

    core, audit, session = core_kit
    management = Management(
        core.store,
        core.hasher,
        root_id=ROOT_ID,
        max_rotation_grace=60,
        audit=audit,
        trail=core.trail,
        clock=clock,
        telemetry=pipeline.telemetry,
    )
    actor = Actor("operator", frozenset({"policy:read", "rule:read"}), operator=True)
    client, _ = management.create(actor, ClientSpec(["policy:read"]))
    engine = core.store.engine()
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(
                text(
                    "CREATE OR REPLACE FUNCTION fides_oauth_test_refuse() RETURNS "
                    "trigger AS $$ BEGIN RAISE EXCEPTION 'refused'; END $$ "
                    "LANGUAGE plpgsql"
                )
            )
            connection.execute(
                text(
                    "CREATE TRIGGER refuse_changes BEFORE UPDATE ON "
                    "fides_oauth_changes FOR EACH ROW EXECUTE FUNCTION "
                    "fides_oauth_test_refuse()"
                )
            )
        else:
            connection.execute(
                text(
                    "CREATE TRIGGER refuse_changes BEFORE UPDATE ON "
                    "fides_oauth_changes BEGIN SELECT RAISE(ABORT, 'refused'); END"
                )
            )
    with pytest.raises(SQLAlchemyError):
        management.set_scopes(actor, client.id, ["rule:read"])
    session.rollback()
    with engine.begin() as connection:
        connection.execute(
            text("DROP TRIGGER refuse_changes ON fides_oauth_changes")
            if engine.dialect.name == "postgresql"
            else text("DROP TRIGGER refuse_changes")
        )
    events = {
        dict(key)["event"]: point.value
        for key, point in pipeline.points("fides_oauth.client.changes").items()
    }
    assert events == {"client_created": 1}
    (failed,) = [
        s
        for s in pipeline.spans.get_finished_spans()
        if s.name == "fides_oauth.client_scopes_changed"
    ]
    assert not failed.status.is_ok
