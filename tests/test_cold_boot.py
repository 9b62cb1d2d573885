"""Workers that start together on an empty database all boot.

``gunicorn --workers 4 "examples.host_app:create_app()"`` runs the factory
in four processes at once, and each creates the library's tables. Without
a lock around the schema change, one in five boots failed (PostgreSQL:
``UniqueViolation`` on ``pg_type``; SQLite: ``table ... already exists``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import create_engine
from sqlalchemy import text

from fides_oauth.migrate import VERSION_TABLE
from fides_oauth.models import metadata
from tests.conftest import ROOT_ID
from tests.conftest import ROOT_SECRET
from tests.conftest import TEST_DATABASE_URL
from tests.servers import gunicorn

pytest.importorskip("gunicorn")

BOOTS = 10
WORKERS = 4


def _empty_database(tmp_path: Path, boot: int) -> str:
    if TEST_DATABASE_URL is None:
        return f"sqlite:///{tmp_path / f'boot-{boot}.sqlite'}"
    engine = create_engine(TEST_DATABASE_URL)
    try:
        metadata.drop_all(engine)
        with engine.begin() as connection:
            connection.execute(text(f"DROP TABLE IF EXISTS {VERSION_TABLE}"))
    finally:
        engine.dispose()
    return TEST_DATABASE_URL


@pytest.fixture
def cleanup_database() -> Any:
    yield
    if TEST_DATABASE_URL is not None:
        _empty_database(Path("."), 0)


@pytest.mark.usefixtures("cleanup_database")
def test_four_workers_boot_together_on_an_empty_database(tmp_path: Path) -> None:
    for boot in range(BOOTS):
        url = _empty_database(tmp_path, boot)
        env = {
            "DATABASE_URL": url,
            "FIDES_OAUTH_ROOT_CLIENT_ID": ROOT_ID,
            "FIDES_OAUTH_ROOT_CLIENT_SECRET": ROOT_SECRET,
        }
        log_path = tmp_path / f"boot-{boot}.log"
        with gunicorn(
            "examples.host_app:create_app()", log_path, workers=WORKERS, env=env
        ) as server:
            token = requests.post(
                server.api + "/oauth/token",
                data={"client_id": ROOT_ID, "client_secret": ROOT_SECRET},
                timeout=30,
            )
            assert token.status_code == 200, token.text
            policy = requests.get(
                server.api + "/policy",
                headers={"Authorization": "Bearer " + token.json()["access_token"]},
                timeout=30,
            )
            assert policy.status_code == 200, policy.text
            assert server.process.poll() is None
        log = log_path.read_text(errors="replace")
        assert "Traceback" not in log, f"boot {boot}:\n{log}"
        assert "Worker failed to boot" not in log, f"boot {boot}:\n{log}"
        assert log.count("Booting worker") >= WORKERS
