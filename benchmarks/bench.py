"""Measure the bearer check and the token endpoint against a bare route and
against Authlib's ready-made opaque-token validator, in one run.

    python benchmarks/bench.py            # every target, about nine minutes
    python benchmarks/bench.py --quick    # a smoke run for CI (about a minute)
    python benchmarks/bench.py --only servers,tokens   # some sections only

In-process times are medians of interleaved requests through Flask's test
client on an SQLite file, in one process; what matters is the ratios, which
hold on a noisy shared machine where absolute times wander. The real-server
part runs gunicorn sync workers on 127.0.0.1 with wrk as the load (installed
from Debian's package when missing; ``--skip-server`` leaves it all out).

Where: SQLite files in a temporary folder; PostgreSQL when
BENCH_POSTGRES_URL (else FIDES_OAUTH_TEST_DATABASE_URL) names one — its
database gets the library's tables dropped before and after each use, and
two scratch databases are made and dropped beside it (``<name>_small``,
``<name>_big``); Redis when BENCH_REDIS_URL (else the tests' default)
answers — the library's keys are deleted afterwards only from a database
BENCH_REDIS_URL names.

The sections, in the table's order (``--only`` takes these names):

- ``bearer``: bare route, anchor, reused token, first use and its parts,
  warm and private_key_jwt token requests, in one interleaved loop;
- ``dpop``: DPoP at both ends, jti on the SQL store and on Redis;
- ``cold``: a credential's first token request against one bcrypt check;
- ``storm``: many first token requests at once on gunicorn (3 workers);
- ``flat``: the hot paths at 10 and at 100,000 clients, SQLite and PostgreSQL;
- ``memory``: RSS after verifying many distinct tokens, in a process of its
  own (it runs beside the storm's untimed preparation);
- ``servers``: protected ÷ bare req/s on gunicorn (2 workers), strict and
  push invalidation, and CPU per request by process, bare → protected;
- ``tokens``: warm token grants per CPU-second of one gunicorn worker.

The modules beside this file hold them: ``harness`` (what they share),
``inprocess``, ``scale`` (data and memory) and ``server``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import sqlite3
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from harness import FAILURES
from harness import NOTES
from harness import Row
from harness import audit_trail_in
from harness import clean_redis
from harness import postgres_url
from harness import redis_url
from harness import say
from harness import scratch_databases
from inprocess import bearer_and_token
from inprocess import cold_token
from inprocess import dpop_costs
from scale import flat_with_size
from scale import memory
from server import PUSH_SETTINGS
from server import ServerFailed
from server import cold_storm
from server import ensure_wrk
from server import protected_vs_bare
from server import push_available
from server import record_trouble
from server import token_throughput

#: The sections, in the table's order.
SECTIONS = ("bearer", "dpop", "cold", "storm", "flat", "memory", "servers", "tokens")
SERVER_SECTIONS = frozenset({"servers", "tokens", "storm"})
#: Where the memory figure is also taken on the way to the total.
MEMORY_CHECKPOINT = 100_000


@dataclass(frozen=True)
class Plan:
    """How much of everything a run does: the full run (about nine minutes
    on two cores) or the quick one (CI's smoke run, under a minute)."""

    quick: bool
    rounds: int
    cold_requests: int
    big: int
    flat_rounds: int
    tokens_verified: int
    server_seconds: int
    server_rounds: int
    grant_seconds: int
    storm_clients: int
    storm_cost: int

    @classmethod
    def of(cls, quick: bool) -> Plan:
        if quick:
            return cls(True, 150, 2, 2_000, 100, 5_000, 1, 1, 1, 40, 4)
        return cls(False, 3000, 5, 100_000, 1500, 1_000_000, 3, 3, 5, 200, 12)


class MemoryJob:
    """The memory figure's process: a fresh one, so memory freed by other
    sections cannot hide what the caches keep."""

    def __init__(self, plan: Plan) -> None:
        self.process = subprocess.Popen(
            [sys.executable, __file__, "--memory", str(plan.tokens_verified)],
            stdout=subprocess.PIPE,
            text=True,
        )

    def rows(self) -> list[Row]:
        """Its rows, once it is done (stopped if it takes over 30 minutes)."""
        try:
            out, _ = self.process.communicate(timeout=1800)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.communicate()
            raise
        if self.process.returncode:
            raise RuntimeError(f"the memory process exited {self.process.returncode}")
        return [
            (
                f"RSS growth after verifying {count:,} distinct tokens",
                f"{grown:.1f} MB",
                "",
                "≤ 50 MB",
            )
            for count, grown in json.loads(out.splitlines()[-1])
        ]


@dataclass
class Run:
    """One run: its plan, scratch folder, chosen sections and rows so far."""

    plan: Plan
    tmp: Path
    chosen: list[str]
    results: dict[str, list[Row]] = field(default_factory=dict)
    #: The memory process, when it runs beside the storm's preparation.
    memory_job: MemoryJob | None = None

    def collect_memory(self) -> None:
        """Wait for a memory process running in the background; its rows."""
        job, self.memory_job = self.memory_job, None
        if job is None:
            return
        try:
            self.results["memory"] = job.rows()
        except (Exception, SystemExit) as error:  # noqa: BLE001 - go on
            FAILURES.append(f"section memory: {type(error).__name__}: {error}")


def us(value: float) -> str:
    return f"{value:.0f} µs"


def times(value: float, base: float) -> str:
    return f"{value / base:.2f}"


# -- sections: each measures, and returns its rows -----------------------------


def bearer_rows(run: Run) -> list[Row]:
    t = bearer_and_token(run.tmp, run.plan.rounds)
    bare = t["bare"]
    return [
        ("bare unprotected route", us(bare), "1.00", ""),
        (
            "Authlib opaque-token validator (anchor)",
            us(t["anchor"]),
            times(t["anchor"], bare),
            "",
        ),
        (
            "bearer check, reused token",
            us(t["reused"]),
            times(t["reused"], bare),
            "≤ 1.3",
        ),
        (
            "bearer check, token's first use",
            us(t["first_use"]),
            times(t["first_use"], bare),
            "≤ 2.0",
        ),
        (
            "  part: signature and claims (decode_token)",
            us(t["part_decode"]),
            times(t["part_decode"], bare),
            "",
        ),
        (
            "  part: client read (store.client_for_token)",
            us(t["part_client"]),
            times(t["part_client"], bare),
            "",
        ),
        (
            "  part: counter read (store.counter)",
            us(t["part_counter"]),
            times(t["part_counter"], bare),
            "",
        ),
        (
            "token request, warm credentials",
            us(t["token_warm"]),
            times(t["token_warm"], bare),
            "≤ 10",
        ),
        (
            "token request, private_key_jwt",
            us(t["token_assertion"]),
            times(t["token_assertion"], bare),
            "≤ 10",
        ),
    ]


def dpop_rows(run: Run) -> list[Row]:
    d = dpop_costs(run.tmp, run.plan.rounds, redis_url())
    bare = d["bare"]
    rows: list[Row] = [
        ("DPoP: bare route (this section's baseline)", us(bare), "1.00", "")
    ]
    for store, label in (("sql", "SQLite"), ("redis", "Redis")):
        if f"dpop_route_{store}" not in d:
            continue
        route, token = d[f"dpop_route_{store}"], d[f"dpop_token_{store}"]
        claim = d[f"jti_claim_{store}"]
        rows += [
            (
                f"DPoP-protected request, jti on {label}",
                us(route),
                times(route, bare),
                "≤ 1.8",
            ),
            (
                f"DPoP token request, warm, jti on {label}",
                us(token),
                times(token, bare),
                "≤ 10",
            ),
            (f"  part: jti claim on {label}", us(claim), times(claim, bare), ""),
        ]
    return [
        *rows,
        (
            "  part: proof check (signature, htm/htu, iat, ath)",
            us(d["proof_check"]),
            times(d["proof_check"], bare),
            "",
        ),
        (
            "  bearer, reused token / token request, warm (same run)",
            f"{d['reused']:.0f} / {d['token_warm']:.0f} µs",
            f"{d['reused'] / bare:.2f} / {d['token_warm'] / bare:.2f}",
            "",
        ),
    ]


def cold_rows(run: Run) -> list[Row]:
    cold, check = cold_token(run.tmp, run.plan.cold_requests)
    return [
        (
            "token request, cold (bcrypt cost 12)",
            f"{cold / 1000:.1f} ms",
            f"{cold / check:.2f} x checkpw",
            "≤ 1.1 x checkpw",
        )
    ]


def flat_rows(run: Run) -> list[Row]:
    """Each store's comparison in one loop of its own: SQLite files, and
    two scratch PostgreSQL databases when a PostgreSQL URL is given."""
    tmp, plan = run.tmp, run.plan
    rows: list[Row] = []
    stores: list[tuple[str, Callable[[], dict[str, float]]]] = [
        (
            "SQLite",
            lambda: flat_with_size(
                tmp / "small.sqlite", tmp / "big.sqlite", plan.big, plan.flat_rounds
            ),
        )
    ]
    pg = postgres_url()
    if pg:

        def on_postgres() -> dict[str, float]:
            with scratch_databases(pg, ("small", "big")) as (small, big):
                return flat_with_size(small, big, plan.big, plan.flat_rounds)

        stores.append(("PostgreSQL", on_postgres))
    for label, measure in stores:
        f = measure()
        for key, what, target in (
            ("reused", "reused token", "≤ 1.10"),
            ("first", "first use", "≤ 1.10"),
            ("token", "token request, warm", "≤ 1.10"),
            ("list", "GET /oauth/client page 1", "≤ 5"),
        ):
            rows.append(
                (
                    f"{what}, {plan.big:,} clients ÷ 10, {label}",
                    us(f[f"big_{key}"]),
                    times(f[f"big_{key}"], f[f"small_{key}"]),
                    target,
                )
            )
    return rows


def memory_rows(run: Run) -> list[Row]:
    job = MemoryJob(run.plan)
    if "storm" in run.chosen:
        # RSS is not a time: the process shares the machine with the storm's
        # preparation (hashing secrets, not timed either), and the storm
        # waits for it to end before its server starts.
        run.memory_job = job
        return []
    return job.rows()


def server_rows(run: Run) -> list[Row]:
    """Protected ÷ bare req/s, 2 sync workers: strict on SQLite and
    PostgreSQL; push on PostgreSQL, and with the Redis store. Each ratio's
    bare figure comes from the same server, in the same rounds."""
    tmp, plan = run.tmp, run.plan
    pg, redis = postgres_url(), redis_url()
    runs: list[tuple[str, str, dict[str, str], str]] = [
        ("SQLite, strict", f"sqlite:///{tmp / 'server.sqlite'}", {}, "≥ 0.8")
    ]
    push = push_available()
    if pg:
        runs.append(("PostgreSQL, strict", pg, {}, "≥ 0.85"))
        runs.append(("PostgreSQL, push", pg, PUSH_SETTINGS, "≥ 0.92"))
        if redis:
            runs.append(
                (
                    "PostgreSQL + Redis store, push",
                    pg,
                    {**PUSH_SETTINGS, "FIDES_OAUTH_STORAGE_URI": redis},
                    "≥ 0.92",
                )
            )
    rows: list[Row] = []
    for label, url, env, target in runs:
        measure = f"gunicorn 2 workers, {label}: protected ÷ bare req/s"
        if env.get("FIDES_OAUTH_INVALIDATION") and not push:
            rows.append((measure, "n/a (setting not available)", "", target))
            continue
        clean_redis(env.get("FIDES_OAUTH_STORAGE_URI"))
        try:
            r = protected_vs_bare(
                url, env, plan.server_seconds, plan.server_rounds, label
            )
        except ServerFailed as error:
            FAILURES.append(f"{label}: {error}")
            rows.append((measure, "failed (see below)", "", target))
            continue
        finally:
            clean_redis(env.get("FIDES_OAUTH_STORAGE_URI"))
        rows.append(
            (
                measure,
                f"{r.protected:.0f} / {r.bare:.0f} req/s"
                + record_trouble(label, r.trouble),
                times(r.protected, r.bare),
                target,
            )
        )
        rows.append(cpu_row(r.cpu))
    return rows


def cpu_row(cpu: dict[str, tuple[float, float]]) -> Row:
    """Where a server's CPU goes per request, bare → protected, by part and
    in total; the ratio is total bare ÷ protected: with every core busy,
    what the req/s ratio would be if the parts counted were all there is."""
    parts = ", ".join(
        f"{part} {bare:.0f} → {protected:.0f}"
        for part, (bare, protected) in cpu.items()
        if part != "total"
    )
    bare, protected = cpu["total"]
    return (
        "  CPU per request, bare → protected (ratio: total bare ÷ protected)",
        f"{parts}; total {bare:.0f} → {protected:.0f} µs",
        times(bare, protected),
        "",
    )


def token_rows(run: Run) -> list[Row]:
    """Warm grants through one worker, on PostgreSQL (else an SQLite file,
    so CI's smoke run still runs the code)."""
    tmp, plan = run.tmp, run.plan
    pg = postgres_url()
    label = "PostgreSQL" if pg else "SQLite (no PostgreSQL URL)"
    url = pg or f"sqlite:///{tmp / 'grants.sqlite'}"
    measure = f"token endpoint, warm credentials, 1 worker on {label}"
    try:
        g = token_throughput(url, plan.grant_seconds)
    except ServerFailed as error:
        FAILURES.append(f"token endpoint: {error}")
        return [(measure + ": grants per worker CPU-second", "failed", "", "≥ 1,200")]
    note = record_trouble("token endpoint", g.trouble)
    return [
        (
            measure + ": grants per worker CPU-second",
            f"{g.grants_per_cpu_second:,.0f}{note}",
            "",
            "≥ 1,200",
        ),
        (
            f"  grants/s, wall clock (wrk -t2 -c8; worker busy {g.busy:.0%})",
            f"{g.grants_per_second:,.0f} /s",
            "",
            "",
        ),
    ]


def storm_rows(run: Run) -> list[Row]:
    """The cold storm, on PostgreSQL (else an SQLite file, for CI)."""
    tmp, plan = run.tmp, run.plan
    pg = postgres_url()
    label = "PostgreSQL" if pg else "SQLite (no PostgreSQL URL)"
    url = pg or f"sqlite:///{tmp / 'storm.sqlite'}"
    measure = (
        f"cold storm, {plan.storm_clients} first token requests at once "
        f"(3 workers, {label}, bcrypt {plan.storm_cost})"
    )
    try:
        s = cold_storm(
            url, plan.storm_clients, plan.storm_cost, before=run.collect_memory
        )
    except ServerFailed as error:
        FAILURES.append(f"cold storm: {error}")
        return [(measure + ": errors", "failed", "", "0")]
    if s.errors:
        NOTES.append(f"cold storm answers: {s.statuses}")
    return [
        (measure + ": errors", f"{s.errors} of {s.clients}", "", "0"),
        ("  latency p50 / p99", f"{s.p50:.2f} / {s.p99:.2f} s", "", ""),
        (
            "  total, first request sent to last answer",
            f"{s.total:.2f} s",
            f"{s.total / s.ideal:.2f} x ideal",
            f"ideal {s.ideal:.2f} s = clients x checkpw ÷ {os.cpu_count()} cores",
        ),
    ]


#: The sections, in the order they run: the memory process starts before
#: the storm, which waits for it once its clients are made.
RUNNERS: dict[str, Callable[[Run], list[Row]]] = {
    "bearer": bearer_rows,
    "dpop": dpop_rows,
    "cold": cold_rows,
    "flat": flat_rows,
    "memory": memory_rows,
    "storm": storm_rows,
    "servers": server_rows,
    "tokens": token_rows,
}


# -- report ----------------------------------------------------------------------


def table(rows: list[Row]) -> str:
    header = ("measure", "median", "ratio", "target")
    width = [
        max([len(h)] + [len(row[i]) for row in rows]) for i, h in enumerate(header)
    ]

    def line(cells: tuple[str, ...]) -> str:
        return (
            "| "
            + " | ".join(c.ljust(w) for c, w in zip(cells, width, strict=True))
            + " |"
        )

    return "\n".join(
        [line(header), "|" + "|".join("-" * (w + 2) for w in width) + "|"]
        + [line(row) for row in rows]
    )


def machine() -> str:
    """The machine, in one line for the README: the figures mean little
    without it."""
    cpu = platform.processor() or "unknown CPU"
    memory_gib = 0.0
    try:
        with open("/proc/cpuinfo") as info:
            cpu = next(
                line.split(":", 1)[1].strip()
                for line in info
                if line.startswith("model name")
            )
        with open("/proc/meminfo") as info:
            kib = next(
                int(line.split()[1]) for line in info if line.startswith("MemTotal")
            )
            memory_gib = kib / 1024 / 1024
    except (OSError, StopIteration, ValueError):
        pass
    parts = [
        cpu,
        f"{os.cpu_count()} cores",
        f"{memory_gib:.0f} GiB",
        f"Python {platform.python_version()}",
        f"SQLite {sqlite3.sqlite_version}",
    ]
    parts += [version for version in (_postgres_version(), _redis_version()) if version]
    return "Machine: " + ", ".join(parts) + " (all on the same host)"


def _postgres_version() -> str | None:
    pg = postgres_url()
    if not pg:
        return None
    from sqlalchemy import create_engine
    from sqlalchemy import text
    from sqlalchemy.exc import SQLAlchemyError

    engine = create_engine(pg)
    try:
        with engine.connect() as connection:
            found = connection.execute(text("SHOW server_version")).scalar()
        return f"PostgreSQL {found}"
    except SQLAlchemyError:
        return "PostgreSQL (version unknown)"
    finally:
        engine.dispose()


def _redis_version() -> str | None:
    url = redis_url()
    if not url:
        return None
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=1)
    try:
        return f"Redis {client.info('server')['redis_version']}"
    except redis.RedisError:
        return "Redis (version unknown)"
    finally:
        client.close()


def main() -> int:
    # The benchmark's hosts derive their issuer from the request on purpose
    # (the default path); the start-up warning about it is for deployments.
    logging.getLogger("fides_oauth").setLevel(logging.ERROR)
    parser = argparse.ArgumentParser(
        description="Measure the bearer check and the token endpoint against a "
        "bare route, in-process and on gunicorn; print the table of figures "
        "and targets."
    )
    parser.add_argument("--quick", action="store_true", help="small counts, for CI")
    parser.add_argument(
        "--skip-server", action="store_true", help="no gunicorn part (no wrk needed)"
    )
    parser.add_argument(
        "--only",
        help="comma-separated sections to run (for working on one): "
        + ", ".join(SECTIONS),
    )
    parser.add_argument("--memory", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory:  # the memory figure, in a process of its own
        checkpoints = sorted({min(MEMORY_CHECKPOINT, args.memory), args.memory})
        with (
            tempfile.TemporaryDirectory() as folder,
            audit_trail_in(Path(folder) / "audit.log"),
        ):
            grown = memory(Path(folder), checkpoints)
        print(json.dumps(list(zip(checkpoints, grown, strict=True))))
        return 0
    plan = Plan.of(args.quick)
    chosen = args.only.split(",") if args.only else list(SECTIONS)
    unknown = set(chosen) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown sections: {', '.join(sorted(unknown))}")
    if args.skip_server:
        chosen = [name for name in chosen if name not in SERVER_SECTIONS]
    if SERVER_SECTIONS & set(chosen):
        ensure_wrk()  # now, rather than after minutes of other figures
    started = time.monotonic()
    with (
        tempfile.TemporaryDirectory() as folder,
        audit_trail_in(Path(folder) / "audit.log"),
    ):
        run = Run(plan, Path(folder), chosen)
        for name in (name for name in RUNNERS if name in chosen):
            began = time.monotonic()
            say(f"{name} ...")
            try:
                run.results.setdefault(name, []).extend(RUNNERS[name](run))
            except (Exception, SystemExit) as error:  # noqa: BLE001 - go on
                # The library may be mid-change: one broken section must not
                # cost the figures of the others. The traceback is on stderr.
                traceback.print_exc()
                FAILURES.append(f"section {name}: {type(error).__name__}: {error}")
            say(f"{name} done in {time.monotonic() - began:.0f} s")
        run.collect_memory()  # if the storm did not (it failed, or was skipped)
    clean_redis(redis_url())
    print(table([row for name in SECTIONS for row in run.results.get(name, [])]))
    kind = "quick" if plan.quick else "full"
    print(
        f"\n{kind} run in {time.monotonic() - started:.0f} s,"
        f" {plan.rounds} interleaved requests per in-process case"
    )
    print(machine())
    for note in NOTES:
        print(f"note: {note}")
    for failure in FAILURES:
        print(f"FAILED: {failure}")
    return 1 if FAILURES else 0


if __name__ == "__main__":
    sys.exit(main())
