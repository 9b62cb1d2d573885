"""Real-server figures: gunicorn sync workers on 127.0.0.1 with ``wrk`` as
the load, so the figures include what a deployment pays (WSGI, sockets,
process boundaries, the database over a connection) and the load generator
is not a Python process competing with the workers for the GIL.

- :func:`protected_vs_bare`: req/s of a protected route and of a bare one on
  the same server, alternated in rounds; the ratio is what the check costs.
  Each load's CPU per request, by process (the workers, PostgreSQL, Redis,
  wrk, from /proc and wrk's rusage), shows where that cost goes.
- :func:`token_throughput`: warm token grants per CPU-second of the worker.
- :func:`cold_storm`: many clients' first token requests all at once.

Every server gets a store of its own (tables dropped before and after) and
its log in a file, read afterwards for anything unexpected.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from contextlib import suppress
from dataclasses import dataclass
from dataclasses import field
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from harness import CLIENT_PATH
from harness import FAILURES
from harness import KEY_ENCRYPTION_KEY
from harness import NOTES
from harness import ROOT
from harness import ROOT_ID
from harness import ROOT_SECRET
from harness import TOKEN_PATH
from harness import drop_everything
from harness import fresh_store
from harness import make_host
from harness import new_client
from harness import release
from harness import root_headers
from harness import say
from inprocess import checkpw_seconds
from sqlalchemy import create_engine
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

#: wrk's threads and open connections: eight connections keep every sync
#: worker busy (each serves one at a time), and wrk, in C, takes far less of
#: a two-core machine than the Python workers it loads.
WRK_THREADS = 2
WRK_CONNECTIONS = 8
#: Push invalidation, as the issue under work defines it.
PUSH_SETTINGS = {
    "FIDES_OAUTH_INVALIDATION": "push",
    "FIDES_OAUTH_MAX_STALENESS_MS": "1000",
}
#: Host-app start-up notices and the audit trail: expected in a server's log.
_EXPECTED_LOG = (
    "fides_oauth.audit",
    "SECURITY WARNING",
    "fides_oauth demo:",
    "FIDES_OAUTH_ISSUER is not set",
)


class ServerFailed(Exception):
    """A server that did not start, or a load that could not be run."""


# -- wrk -----------------------------------------------------------------------


def ensure_wrk(timeout: float = 300) -> str:
    """wrk's path, installing Debian's package if it is missing (``apt-get
    update`` only when the install fails: the lists may be stale)."""
    found = shutil.which("wrk")
    if found:
        return found
    say("wrk is not installed: apt-get install -y wrk")
    deadline = time.monotonic() + timeout
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "-qq", "wrk"]
    for step in (install, ["apt-get", "update", "-qq"], install):
        try:
            subprocess.run(
                step,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                timeout=max(deadline - time.monotonic(), 1),
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired):
            break
        found = shutil.which("wrk")
        if found:
            return found
    raise SystemExit(
        "bench: wrk is needed for the server figures and `apt-get install -y wrk` "
        "failed; install Debian's wrk package, or pass --skip-server"
    )


@dataclass(frozen=True)
class Load:
    """One wrk run, as wrk reports it."""

    requests: int
    seconds: float
    rps: float
    #: 4xx and 5xx answers (wrk's "Non-2xx or 3xx responses").
    non_2xx: int = 0
    #: Connect, read, write and timeout errors, summed.
    socket_errors: int = 0
    #: CPU seconds the load cost, by part: wrk's own (from its rusage), and
    #: what :func:`protected_vs_bare` adds (workers, PostgreSQL, Redis).
    cpu: dict[str, float] = field(default_factory=dict)

    def trouble(self) -> str | None:
        """Why the figure cannot be trusted, or None: a fast error page must
        never pass for a fast route."""
        if not self.requests:
            return "no request completed"
        parts = []
        if self.non_2xx:
            parts.append(f"{self.non_2xx} non-2xx")
        if self.socket_errors:
            parts.append(f"{self.socket_errors} socket errors")
        return ", ".join(parts) or None


def parse_wrk(output: str) -> Load:
    """wrk's summary: requests, duration, Requests/sec and the error lines
    (which wrk prints only when they are not zero)."""
    total = re.search(r"(\d+) requests in ([\d.]+)(us|ms|s|m)\b", output)
    rate = re.search(r"Requests/sec:\s+([\d.]+)", output)
    if not total or not rate:
        raise ServerFailed(f"wrk's output was not understood: {output[-300:]!r}")
    unit = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}[total.group(3)]
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    sockets = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    return Load(
        requests=int(total.group(1)),
        seconds=float(total.group(2)) * unit,
        rps=float(rate.group(1)),
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        socket_errors=sum(int(n) for n in sockets.groups()) if sockets else 0,
    )


def run_wrk(
    port: int,
    path: str,
    seconds: int,
    *,
    headers: dict[str, str] | None = None,
    form: dict[str, str] | None = None,
) -> Load:
    """``seconds`` of load on one path of 127.0.0.1:``port``: a GET, or a
    form POST (through a Lua script in a temporary file, wrk's way)."""
    command = [
        ensure_wrk(),
        f"-t{WRK_THREADS}",
        f"-c{WRK_CONNECTIONS}",
        f"-d{max(int(seconds), 1)}s",
        "--timeout",
        "30s",
    ]
    for name, value in (headers or {}).items():
        command += ["-H", f"{name}: {value}"]
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as script:
        if form is not None:
            # JSON string literals are Lua string literals for ASCII text.
            script.write(
                'wrk.method = "POST"\n'
                f"wrk.body = {json.dumps(urlencode(form))}\n"
                'wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"\n'
            )
            script.flush()
            command += ["-s", script.name]
        command.append(f"http://127.0.0.1:{port}{path}")
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            process = subprocess.Popen(command, stdout=out, stderr=err)
            status, cpu = _reap(process, seconds + 60)
            if status is None:
                raise ServerFailed(f"wrk on {path} did not finish")
            out.seek(0)
            err.seek(0)
            stdout = out.read().decode(errors="replace")
            stderr = err.read().decode(errors="replace")
    if status != 0:
        raise ServerFailed(f"wrk failed on {path}: {stderr.strip()[:300]}")
    return replace(parse_wrk(stdout), cpu={"wrk": cpu})


def _reap(process: subprocess.Popen[bytes], timeout: float) -> tuple[int | None, float]:
    """Wait for a child with ``os.wait4``, for the CPU it used (user plus
    system, all its threads, from its rusage): its exit status (None, once
    killed, if it ran past ``timeout`` seconds) and those CPU seconds. A
    poll every 20 ms: a negligible cost beside the load."""
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                process.returncode = os.waitstatus_to_exitcode(status)
                return process.returncode, usage.ru_utime + usage.ru_stime
            time.sleep(0.02)
    except BaseException:  # interrupted: no wrk left behind
        process.kill()
        process.wait()
        raise
    process.kill()
    process.wait()
    return None, 0.0


# -- gunicorn ------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def call(
    port: int,
    method: str,
    path: str,
    *,
    form: dict[str, str] | None = None,
    json_body: Any = None,
    headers: dict[str, str] | None = None,
    timeout: float = 60,
) -> tuple[int, Any]:
    """One request to 127.0.0.1:``port``: its status and its JSON (None
    when the body is not JSON)."""
    sent = dict(headers or {})
    body: str | None = None
    if form is not None:
        body = urlencode(form)
        sent["Content-Type"] = "application/x-www-form-urlencoded"
    elif json_body is not None:
        body = json.dumps(json_body)
        sent["Content-Type"] = "application/json"
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=sent)
        response = conn.getresponse()
        raw = response.read()
    finally:
        conn.close()
    try:
        return response.status, json.loads(raw)
    except ValueError:
        return response.status, None


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process, from /proc/<pid>/stat."""
    with open(f"/proc/{pid}/stat") as stat:
        # Fields after the command name (which may hold spaces), from the
        # state (field 3): utime and stime are fields 14 and 15.
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Server:
    """A running gunicorn: its port, master process and log file."""

    port: int
    process: subprocess.Popen[bytes]
    log: Path
    name: str
    workers_wanted: int
    seen_workers: set[int] = field(default_factory=set)

    def workers(self) -> list[int]:
        """The master's children: its workers."""
        children: list[int] = []
        for task in Path(f"/proc/{self.process.pid}/task").glob("*"):
            try:
                children += [int(p) for p in (task / "children").read_text().split()]
            except OSError:
                continue
        self.seen_workers.update(children)
        return sorted(children)

    def token(self, client_id: str, secret: str) -> str:
        status, body = call(
            self.port,
            "POST",
            TOKEN_PATH,
            form={"client_id": client_id, "client_secret": secret},
        )
        if status != 200:
            raise ServerFailed(f"{self.name}: token request answered {status}")
        return str(body["access_token"])

    def settle(self, timeout: float = 60) -> None:
        """Wait until every worker has booted and gone idle: a worker still
        hashing its start-up secrets would otherwise steal the first load's
        CPU (the health check is answered by whichever worker is ready)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            workers = self.workers()
            if len(workers) == self.workers_wanted:
                try:
                    before = sum(cpu_seconds(pid) for pid in workers)
                    time.sleep(0.5)
                    spent = sum(cpu_seconds(pid) for pid in workers) - before
                except OSError:
                    continue
                if spent < 0.05 and self.workers() == workers:
                    return
            else:
                time.sleep(0.2)
        raise ServerFailed(f"{self.name}: the workers did not settle in {timeout} s")


@contextmanager
def gunicorn(
    url: str, workers: int, env: dict[str, str], name: str
) -> Iterator[Server]:
    """The reference host app under gunicorn (sync workers) on a free
    loopback port, configured through the environment as a deployment
    would be; stopped, and its log reviewed, on the way out."""
    port = _free_port()
    log = Path(tempfile.mkstemp(prefix="bench-gunicorn-", suffix=".log")[1])
    environment = {
        **os.environ,
        "DATABASE_URL": url,
        "FIDES_OAUTH_ROOT_CLIENT_ID": ROOT_ID,
        "FIDES_OAUTH_ROOT_CLIENT_SECRET": ROOT_SECRET,
        "FIDES_OAUTH_KEY_ENCRYPTION_KEY": KEY_ENCRYPTION_KEY,
        "PYTHONPATH": str(ROOT),
        **env,
    }
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "--workers",
                str(workers),
                "--bind",
                f"127.0.0.1:{port}",
                "--log-level",
                "warning",
                # Longer than any request here (a cold request queued behind a
                # storm's bcrypt checks is waiting, not hung).
                "--timeout",
                "300",
                "examples.host_app:create_app()",
            ],
            cwd=ROOT,
            env=environment,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    server = Server(port, process, log, name, workers)
    try:
        _wait_for_health(server)
        server.settle()
        with lock_waits(url, name):
            yield server
    finally:
        _stop(server)
        review_log(server)
        log.unlink(missing_ok=True)


@contextmanager
def lock_waits(url: str, name: str, every: float = 0.2) -> Iterator[None]:
    """While a server on PostgreSQL is under load, sample how many of the
    database's sessions wait on a lock; any seen goes to the notes, since
    lock waits serialise workers that should run side by side. One cheap
    query per ``every`` seconds, from one connection."""
    if make_url(url).get_backend_name() != "postgresql":
        yield
        return
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    stop = threading.Event()
    seen: list[int] = []
    query = text(
        "SELECT count(*) FROM pg_stat_activity"
        " WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )

    def sample() -> None:
        try:
            with engine.connect() as connection:
                while not stop.wait(every):
                    seen.append(int(connection.execute(query).scalar() or 0))
        except SQLAlchemyError as error:
            NOTES.append(f"{name}: lock sampling stopped: {error!s:.200}")

    watcher = threading.Thread(target=sample, daemon=True)
    watcher.start()
    try:
        yield
    finally:
        stop.set()
        watcher.join(timeout=10)
        engine.dispose()
        waiting = [n for n in seen if n]
        if waiting:
            NOTES.append(
                f"{name}: sessions waiting on a lock in {len(waiting)} of "
                f"{len(seen)} samples (at most {max(waiting)} at once)"
            )


def _wait_for_health(server: Server, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise ServerFailed(
                f"{server.name}: gunicorn exited with {server.process.returncode}: "
                + _log_tail(server.log)
            )
        try:
            if call(server.port, "GET", "/api/v1/health", timeout=5)[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise ServerFailed(f"{server.name}: gunicorn did not answer in {timeout} s")


def _stop(server: Server) -> None:
    """SIGTERM to the master (it stops its workers); SIGKILL to it and to
    every worker it had, by pid, if that takes more than 30 s."""
    workers = set(server.workers()) | server.seen_workers
    if server.process.poll() is None:
        server.process.send_signal(signal.SIGTERM)
    try:
        server.process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait(timeout=30)
    for pid in workers:
        with suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def _log_tail(log: Path, lines: int = 5) -> str:
    text = log.read_text(errors="replace").strip().splitlines()
    return " | ".join(text[-lines:]) or "(empty log)"


def review_log(server: Server) -> None:
    """Every line of the server's log that is neither the audit trail nor a
    known start-up notice goes to the notes under the table."""
    unexpected = [
        line.strip()
        for line in server.log.read_text(errors="replace").splitlines()
        if line.strip() and not any(mark in line for mark in _EXPECTED_LOG)
    ]
    if unexpected:
        shown = list(dict.fromkeys(unexpected))[:6]
        NOTES.append(
            f"{server.name}: {len(unexpected)} unexpected log lines, e.g.: "
            + " || ".join(line[:240] for line in shown)
        )


def push_available() -> bool:
    """Whether the library (as a new process imports it now: it is being
    changed) knows the push-invalidation settings; the host app passes on
    only the settings the library lists, so unknown ones would be ignored
    and a "push" row would measure strict mode."""
    code = (
        "from fides_oauth.settings import SETTINGS\n"
        f"print(set({sorted(PUSH_SETTINGS)!r}) <= {{s.key for s in SETTINGS}})"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return done.stdout.strip() == "True"


# -- CPU per request -------------------------------------------------------------

#: A process as the readings know it: its pid and its start time (field 22
#: of /proc/<pid>/stat), since a pid freed during a load may be reused.
Proc = tuple[int, int]
#: The database in a PostgreSQL process's title: a backend's (``postgres:
#: [cluster: ]user database host(port) activity``) or an autovacuum
#: worker's; background processes' titles name none.
_DATABASE = re.compile(
    r"postgres: (?:.*?: )?"
    r"(?:\S+ (\S+) (?:\S+\(\d+\)|\[local\]) |autovacuum worker (\S+))"
)


@dataclass(frozen=True)
class CpuReading:
    """CPU seconds so far (user plus system) of the processes a load costs,
    from /proc: to be subtracted from a later reading, pid by pid."""

    workers: dict[Proc, float]
    #: The postmaster, its background processes and the backends of the
    #: server's database.
    postgres: dict[Proc, float]
    #: Of those, the backends of the server's database.
    backends: frozenset[Proc]
    #: Processes of other databases: another tenant's (a test suite may use
    #: the same PostgreSQL), not the load's.
    other_postgres: dict[Proc, float]
    #: The postmaster's reaped children's CPU (cutime + cstime): where the
    #: CPU of backends that end between two readings goes.
    postgres_ended: float
    redis: dict[Proc, float]
    #: The machine's busy CPU seconds, every core, from /proc/stat.
    machine: float


def _stat(pid: int | str) -> tuple[str, list[str]]:
    """A process's command name, and its stat fields from the state (field
    3) on: the name may hold spaces and parentheses."""
    with open(f"/proc/{pid}/stat") as stat:
        head, rest = stat.read().rsplit(")", 1)
    return head.split("(", 1)[1], rest.split()


def read_cpu(workers: list[int], database: str | None) -> CpuReading:
    """One reading: the given gunicorn workers, every process named
    ``postgres`` (backends of ``database`` and background ones apart from
    other databases' backends) and every ``redis-server``."""
    tick = os.sysconf("SC_CLK_TCK")

    def spent(fields: list[str]) -> float:
        return (int(fields[11]) + int(fields[12])) / tick  # utime, stime

    def key(pid: int | str, fields: list[str]) -> Proc:
        return int(pid), int(fields[19])

    mine: dict[Proc, float] = {}
    for pid in workers:
        with suppress(OSError):  # ended since it was listed
            fields = _stat(pid)[1]
            mine[key(pid, fields)] = spent(fields)
    postgres: dict[Proc, float] = {}
    backends: set[Proc] = set()
    other: dict[Proc, float] = {}
    redis: dict[Proc, float] = {}
    ended = 0.0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            comm, fields = _stat(entry.name)
            if comm == "redis-server":
                redis[key(entry.name, fields)] = spent(fields)
            if comm != "postgres":
                continue
            with open(f"/proc/{entry.name}/cmdline", "rb") as cmdline:
                title = cmdline.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:  # ended meanwhile
            continue
        named = _DATABASE.match(title)
        if named and database not in named.groups():
            other[key(entry.name, fields)] = spent(fields)
            continue
        postgres[key(entry.name, fields)] = spent(fields)
        if named:
            backends.add(key(entry.name, fields))
        if not title.startswith("postgres:"):  # the postmaster
            ended += (int(fields[13]) + int(fields[14])) / tick
    with open("/proc/stat") as stat:
        # user nice system idle iowait irq softirq steal: all but idle, iowait.
        ticks = [int(n) for n in stat.readline().split()[1:9]]
    machine = (sum(ticks) - ticks[3] - ticks[4]) / tick
    return CpuReading(mine, postgres, frozenset(backends), other, ended, redis, machine)


def _grown(before: dict[Proc, float], after: dict[Proc, float]) -> float:
    """CPU seconds between two readings of a set of processes: per process,
    one that appeared in between counting in full."""
    return sum(cpu - before.get(proc, 0.0) for proc, cpu in after.items())


def cpu_spent(before: CpuReading, after: CpuReading) -> dict[str, float]:
    """CPU seconds between two readings, by part; ``ended`` counts the
    backends of the server's database that ended in between (their CPU
    since the first reading is then lost among ``other PostgreSQL``)."""
    gone = before.postgres.keys() - after.postgres.keys()
    gone_other = before.other_postgres.keys() - after.other_postgres.keys()
    # Reaped in between, less what those known before had already spent.
    ended = (
        after.postgres_ended
        - before.postgres_ended
        - sum(before.postgres[proc] for proc in gone)
        - sum(before.other_postgres[proc] for proc in gone_other)
    )
    gone_backends = before.backends - after.postgres.keys()
    return {
        "workers": _grown(before.workers, after.workers),
        "PostgreSQL": _grown(before.postgres, after.postgres),
        "Redis": _grown(before.redis, after.redis),
        "other PostgreSQL": _grown(before.other_postgres, after.other_postgres)
        + max(ended, 0.0),
        "machine": after.machine - before.machine,
        "ended": float(len(gone_backends)),
    }


# -- protected ÷ bare ----------------------------------------------------------


@dataclass(frozen=True)
class Ratio:
    bare: float
    protected: float
    #: Why a load's figure cannot be trusted, if one could not.
    trouble: str | None = None
    #: Median µs of CPU per request, (bare, protected), by part — workers,
    #: PostgreSQL and Redis when the server uses them, wrk — and their total.
    cpu: dict[str, tuple[float, float]] = field(default_factory=dict)


#: Beside the parts a row shows: the machine's busy CPU outside them (the
#: master, this process, the kernel's threads, other tenants), and other
#: databases' backends; noted when above this share of the parts' total.
ELSEWHERE_NOTE = 0.10


def protected_vs_bare(
    url: str, env: dict[str, str], seconds: int, rounds: int, name: str
) -> Ratio:
    """Median req/s of GET /api/v1/health (bare) and GET /api/v1/policy
    (protected, a client's reused token) on one server with 2 sync workers,
    in rounds whose order alternates, so both see the same machine; and
    where each one's CPU goes, read before and after every load."""
    database = make_url(url).database
    parts = ["workers"]
    if make_url(url).get_backend_name() == "postgresql":
        parts.append("PostgreSQL")
    if env.get("FIDES_OAUTH_STORAGE_URI", "").startswith("redis"):
        parts.append("Redis")
    parts.append("wrk")
    fresh_store(url)
    try:
        with gunicorn(url, 2, env, name) as server:
            body = served_client(server, name)
            token = server.token(body["client_id"], body["client_secret"])
            # The same Authorization header on both: the bare route ignores it.
            headers = {"Authorization": "Bearer " + token}
            runs: dict[str, list[Load]] = {"bare": [], "protected": []}
            paths = [("bare", "/api/v1/health"), ("protected", "/api/v1/policy")]
            for number in range(rounds):
                for kind, path in paths if number % 2 == 0 else paths[::-1]:
                    before = read_cpu(server.workers(), database)
                    load = run_wrk(server.port, path, seconds, headers=headers)
                    spent = cpu_spent(before, read_cpu(server.workers(), database))
                    runs[kind].append(replace(load, cpu={**load.cpu, **spent}))
    finally:
        drop_everything(url)
    trouble = [
        f"{kind}: {load.trouble()}"
        for kind, loads in runs.items()
        for load in loads
        if load.trouble()
    ]
    per_request = {kind: _per_request(loads, parts) for kind, loads in runs.items()}
    cpu = {
        part: (per_request["bare"][part], per_request["protected"][part])
        for part in [*parts, "total"]
    }
    _note_elsewhere(name, per_request, runs)
    return Ratio(
        bare=statistics.median(load.rps for load in runs["bare"]),
        protected=statistics.median(load.rps for load in runs["protected"]),
        trouble="; ".join(trouble) or None,
        cpu=cpu,
    )


def _per_request(loads: list[Load], parts: list[str]) -> dict[str, float]:
    """Median µs of CPU per completed request over the loads: each of
    ``parts``, their ``total`` (the median of each load's sum), and what
    the notes may need (``machine``, ``other PostgreSQL``)."""

    def each(load: Load, part: str) -> float:
        if part == "total":
            return sum(each(load, name) for name in parts)
        return load.cpu.get(part, 0.0) / max(load.requests, 1) * 1e6

    return {
        part: statistics.median(each(load, part) for load in loads)
        for part in [*parts, "total", "machine", "other PostgreSQL"]
    }


def _note_elsewhere(
    name: str, per_request: dict[str, dict[str, float]], runs: dict[str, list[Load]]
) -> None:
    """A note when the parts counted leave much of the machine's busy CPU
    out (bare → protected, µs per request), and one when backends of the
    server's database ended during a load (their CPU is then not in the
    PostgreSQL figure)."""
    bare, protected = per_request["bare"], per_request["protected"]
    rest = {kind: f["machine"] - f["total"] for kind, f in per_request.items()}
    if any(rest[kind] > ELSEWHERE_NOTE * f["total"] for kind, f in per_request.items()):
        NOTES.append(
            f"{name}: beside the CPU counted, the machine was busy "
            f"{rest['bare']:.0f} → {rest['protected']:.0f} µs per request "
            "(PostgreSQL processes of other databases or that ended mid-load "
            f"{bare['other PostgreSQL']:.0f} → {protected['other PostgreSQL']:.0f}; "
            "the rest: the kernel's softirqs, gunicorn's master, this process, "
            "other tenants)"
        )
    ended = sum(load.cpu.get("ended", 0.0) for loads in runs.values() for load in loads)
    if ended:
        NOTES.append(
            f"{name}: {ended:.0f} backends of the database ended during the loads; "
            "their CPU after the reading before is not in the PostgreSQL figure"
        )


# -- token endpoint throughput ---------------------------------------------------


@dataclass(frozen=True)
class Throughput:
    grants_per_second: float
    grants_per_cpu_second: float
    #: The worker's CPU seconds per wall second under the load.
    busy: float
    trouble: str | None = None


def served_client(server: Any, label: str) -> dict[str, Any]:
    """A client holding policy:read, created through the server's API with
    the root's token: its id and secret."""
    root = {"Authorization": "Bearer " + server.token(ROOT_ID, ROOT_SECRET)}
    status, body = call(
        server.port, "POST", CLIENT_PATH, json_body=["policy:read"], headers=root
    )
    if status not in (200, 201):
        raise ServerFailed(f"{label}: creating a client answered {status}")
    return dict(body)


def token_throughput(url: str, seconds: int) -> Throughput:
    """Warm token grants through ONE sync worker: per wall-clock second, and
    per CPU-second of that worker (user + system, from /proc), which is what
    a deployment buys cores for and holds on a shared machine."""
    fresh_store(url)
    try:
        with gunicorn(url, 1, {}, "token endpoint, 1 worker") as server:
            body = served_client(server, "token endpoint")
            form = {
                "client_id": body["client_id"],
                "client_secret": body["client_secret"],
            }
            server.token(form["client_id"], form["client_secret"])  # warm
            workers = server.workers()
            if len(workers) != 1:
                raise ServerFailed(f"one worker expected, found {workers}")
            worker = workers[0]
            run_wrk(server.port, TOKEN_PATH, 1, form=form)  # warm up the process
            started = time.monotonic()
            before = cpu_seconds(worker)
            load = run_wrk(server.port, TOKEN_PATH, seconds, form=form)
            spent = cpu_seconds(worker) - before
            wall = time.monotonic() - started
            if server.workers() != [worker]:
                raise ServerFailed("the worker was replaced during the load")
    finally:
        drop_everything(url)
    return Throughput(
        grants_per_second=load.rps,
        grants_per_cpu_second=load.requests / spent if spent else 0.0,
        busy=spent / wall,
        trouble=load.trouble(),
    )


# -- the cold storm ---------------------------------------------------------------


@dataclass(frozen=True)
class Storm:
    clients: int
    errors: int
    p50: float
    p99: float
    total: float
    #: clients x one checkpw at the cost ÷ cores: the least the storm can take.
    ideal: float
    statuses: dict[str, int]


def _create_clients(url: str, count: int, cost: int) -> list[tuple[str, str]]:
    """``count`` clients through the HTTP API, in-process on the server's
    database, their secrets hashed at ``cost`` as the server would; in as
    many threads as cores (bcrypt lets go of the GIL)."""
    app = make_host(url, FIDES_OAUTH_BCRYPT_ROUNDS=cost)
    try:
        root = root_headers(app.test_client())
        with ThreadPoolExecutor(os.cpu_count() or 2) as pool:
            return list(
                pool.map(lambda _: new_client(app.test_client(), root), range(count))
            )
    finally:
        release(app)


def cold_storm(
    url: str, clients: int, cost: int, before: Callable[[], None] = lambda: None
) -> Storm:
    """Every client's first token request at once against 3 sync workers:
    each needs one bcrypt check, so the storm is CPU-bound; what is
    measured is whether all succeed, how long they wait, and the total
    against the least it could take (one checkpw each, on every core).

    ``before`` runs once the clients are made and before the server starts:
    making them is untimed hashing, which may share the machine with other
    untimed work; ``before`` waits for that work to end."""
    fresh_store(url, FIDES_OAUTH_BCRYPT_ROUNDS=cost)
    try:
        started = time.monotonic()
        pairs = _create_clients(url, clients, cost)
        say(f"cold storm: {clients} clients made in {time.monotonic() - started:.0f} s")
        before()
        env = {"FIDES_OAUTH_BCRYPT_ROUNDS": str(cost)}
        with gunicorn(url, 3, env, f"cold storm, bcrypt cost {cost}") as server:
            outcomes = _storm(server.port, pairs)
    finally:
        drop_everything(url)
    statuses: dict[str, int] = {}
    for status, _, _ in outcomes:
        statuses[status] = statuses.get(status, 0) + 1
    done = [(start, end) for status, start, end in outcomes if end is not None]
    latencies = sorted(end - start for start, end in done)
    errors = sum(count for status, count in statuses.items() if status != "200")
    return Storm(
        clients=clients,
        errors=errors,
        p50=statistics.median(latencies) if latencies else float("nan"),
        p99=_percentile(latencies, 99),
        total=max(end for _, end in done) - min(start for start, _ in done)
        if done
        else float("nan"),
        ideal=clients * checkpw_seconds(cost) / (os.cpu_count() or 1),
        statuses=statuses,
    )


def _percentile(ordered: list[float], percent: float) -> float:
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(percent / 100 * len(ordered)) - 1))
    return ordered[index]


def _storm(
    port: int, pairs: list[tuple[str, str]]
) -> list[tuple[str, float, float | None]]:
    """One thread and one connection per client, connected first, then all
    released together by a barrier: (status or error, start, end) each."""
    barrier = threading.Barrier(len(pairs))
    outcomes: list[tuple[str, float, float | None]] = [("not run", 0.0, None)] * len(
        pairs
    )

    def first_request(index: int, client_id: str, secret: str) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
        try:
            try:
                conn.connect()
            finally:
                barrier.wait(timeout=120)  # go together, connected or not
            start = time.perf_counter()
            conn.request(
                "POST",
                TOKEN_PATH,
                body=urlencode({"client_id": client_id, "client_secret": secret}),
                headers={"Content-Type": "application/x-www-form-urlencoded"},
            )
            response = conn.getresponse()
            response.read()
            outcomes[index] = (str(response.status), start, time.perf_counter())
        except (OSError, threading.BrokenBarrierError) as error:
            outcomes[index] = (type(error).__name__, time.perf_counter(), None)
        finally:
            conn.close()

    threads = [
        threading.Thread(target=first_request, args=(i, cid, secret), daemon=True)
        for i, (cid, secret) in enumerate(pairs)
    ]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 900
    for thread in threads:
        thread.join(timeout=max(deadline - time.monotonic(), 0.1))
    return list(outcomes)


def record_trouble(what: str, trouble: str | None) -> str:
    """The table's note for a figure a failed load invalidates (and the run
    fails at the end): empty when there was none."""
    if not trouble:
        return ""
    FAILURES.append(f"{what}: {trouble}")
    return f" (INVALID: {trouble})"
