"""Real servers for the tests that need them: gunicorn, started as users do.

The server is stopped by its process id, and its log is kept so a test can
look at what an operator would see.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import requests

ROOT_DIR = Path(__file__).resolve().parent.parent


def bursts_across_processes(
    send: Callable[[], requests.Response], size: int = 12, most: int = 10
) -> list[tuple[int, str]]:
    """``send`` in concurrent bursts of ``size`` until more than one worker
    process has answered (an idle sync worker is not guaranteed a turn by a
    small burst); each answer's status and ``X-Worker-Pid``."""
    from concurrent.futures import ThreadPoolExecutor

    def one(_: int) -> tuple[int, str]:
        response = send()
        return response.status_code, response.headers.get("X-Worker-Pid", "")

    answers: list[tuple[int, str]] = []
    with ThreadPoolExecutor(size) as pool:
        for _ in range(most):
            answers += pool.map(one, range(size))
            if len({pid for _, pid in answers}) > 1:
                break
    return answers


def worker_env(
    url: str, issuer: str, storage_uri: str | None = None, **settings: str
) -> dict[str, str]:
    """The environment ``tests.wsgi_workers:app`` is configured from: the
    test database, the suite's root client and key-encryption key, the
    issuer, the shared state, and any further ``FIDES_OAUTH_*`` settings."""
    from tests.conftest import KEY_ENCRYPTION_KEY
    from tests.conftest import ROOT_ID
    from tests.conftest import ROOT_SECRET

    return {
        "FIDES_OAUTH_WORKERS_DATABASE_URL": url,
        "FIDES_OAUTH_ROOT_CLIENT_ID": ROOT_ID,
        "FIDES_OAUTH_ROOT_CLIENT_SECRET": ROOT_SECRET,
        "FIDES_OAUTH_KEY_ENCRYPTION_KEY": KEY_ENCRYPTION_KEY,
        "FIDES_OAUTH_ISSUER": issuer,
        "FIDES_OAUTH_STORAGE_URI": storage_uri or "",
        **settings,
    }


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    base: str
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def api(self) -> str:
        return self.base + "/api/v1"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@contextlib.contextmanager
def gunicorn(
    app: str,
    log_path: Path,
    *,
    workers: int,
    env: dict[str, str],
    host: str = "127.0.0.1",
    port: int | None = None,
    boot_timeout: float = 90.0,
    options: tuple[str, ...] = (),
) -> Iterator[Server]:
    """``gunicorn --workers N [OPTIONS] APP`` until the block ends; waits until
    ``/api/v1/health`` answers (failing with the log if it never does)."""
    port = port or free_port(host)
    base = f"http://{host}:{port}"
    full_env = {**os.environ, "PYTHONPATH": str(ROOT_DIR), **env}
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "--workers",
                str(workers),
                "--worker-class",
                "sync",
                "--bind",
                f"{host}:{port}",
                "--timeout",
                "60",
                *options,
                app,
            ],
            cwd=ROOT_DIR,
            env=full_env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    server = Server(base, process, log_path)
    try:
        deadline = time.monotonic() + boot_timeout
        while True:
            try:
                if requests.get(server.api + "/health", timeout=5).ok:
                    break
            except requests.RequestException:
                pass  # not listening yet, or still booting
            assert process.poll() is None, "gunicorn exited:\n" + server.log()
            assert time.monotonic() < deadline, (
                "gunicorn did not start:\n" + server.log()
            )
            time.sleep(0.1)
        yield server
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGKILL)
            process.wait(timeout=30)
