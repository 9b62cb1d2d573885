"""Figures that must not grow with the data: the hot paths at 10 and at
100,000 clients (on SQLite, and on PostgreSQL when given one), and the
memory of a process that has verified a great many distinct tokens."""

from __future__ import annotations

import gc
import logging
import multiprocessing
import os
import time
from collections import deque
from collections.abc import Callable
from collections.abc import Sequence
from multiprocessing.pool import ApplyResult
from pathlib import Path
from typing import Any

import bcrypt
from flask import Flask
from harness import ROOT_ID
from harness import TOKEN_PATH
from harness import expect
from harness import interleaved
from harness import make_host
from harness import mint
from harness import new_client
from harness import record_of
from harness import release
from harness import root_headers
from harness import say
from harness import supply
from harness import token_for
from sqlalchemy import insert

from examples.host_app import db
from fides_oauth.models import AuthFailure
from fides_oauth.models import OAuthClient
from fides_oauth.models import RevokedToken
from fides_oauth.tokens import verify_token

#: Rows per INSERT batch when filling a store.
FILL_BATCH = 20_000


def fill(app: Flask, clients: int) -> None:
    """``clients`` stored clients, as many revocations and failure counters:
    every table a hot path reads grows, in batch inserts (minutes faster
    than the API, which would hash each secret)."""
    now = time.time()
    dummy = bcrypt.hashpw(b"unused", bcrypt.gensalt(4)).decode()
    with app.app_context():
        for start in range(0, clients, FILL_BATCH):
            numbers = range(start, min(start + FILL_BATCH, clients))
            db.session.execute(
                insert(OAuthClient),
                [
                    {
                        "id": f"{n:032x}",
                        "secret_hash": dummy,
                        "scopes": ["policy:read"],
                        "created_by": ROOT_ID,
                    }
                    for n in numbers
                ],
            )
            db.session.execute(
                insert(RevokedToken),
                [
                    {"jti": f"j{n}", "client_id": f"{n:032x}", "expires_at": now + 3600}
                    for n in numbers
                ],
            )
            db.session.execute(
                insert(AuthFailure),
                [
                    {"key": f"{n:064x}", "window_start": now, "failures": 1}
                    for n in numbers
                ],
            )
        db.session.commit()
        db.session.remove()


def flat_with_size(
    small: Path | str, big: Path | str, size: int, rounds: int
) -> dict[str, float]:
    """Reused token, first use, warm token request and the client list on a
    store of 10 clients and one of ``size``, interleaved in one loop: the
    ratio big ÷ small is the growth, free of the machine's drift."""
    cases: dict[str, Callable[[], None]] = {}
    apps: list[Flask] = []
    for label, where, clients in (("small", small, 10), ("big", big, size)):
        app = make_host(where, FIDES_OAUTH_BCRYPT_ROUNDS=4)
        started = time.monotonic()
        fill(app, clients)
        if clients > 1000:
            say(f"filled {clients:,} clients in {time.monotonic() - started:.0f} s")
        other_worker = make_host(where, FIDES_OAUTH_BCRYPT_ROUNDS=4)
        apps += [app, other_worker]
        cases.update(_size_cases(label, app, other_worker, supply(rounds)))
    try:
        return interleaved(cases, rounds)
    finally:
        for app in apps:
            release(app)


def _size_cases(
    label: str, app: Flask, other_worker: Flask, count: int
) -> dict[str, Callable[[], None]]:
    """The four requests of one store's size, for :func:`flat_with_size`."""
    http = app.test_client()
    root = root_headers(http)
    cid, secret = new_client(http, root)
    # Warm from here on: this first request pays the bcrypt check.
    headers = {"Authorization": "Bearer " + token_for(http, cid, secret)}
    form = {"client_id": cid, "client_secret": secret}
    tokens = iter(mint(other_worker, record_of(app, cid), count))

    def first_use() -> Any:
        fresh = {"Authorization": "Bearer " + next(tokens)}
        return http.get("/api/v1/policy", headers=fresh)

    return {
        f"{label}_reused": expect(
            200, lambda: http.get("/api/v1/policy", headers=headers)
        ),
        f"{label}_first": expect(200, first_use),
        f"{label}_token": expect(200, lambda: http.post(TOKEN_PATH, data=form)),
        f"{label}_list": expect(
            200, lambda: http.get("/api/v1/oauth/client", headers=root)
        ),
    }


# -- memory --------------------------------------------------------------------


def rss_kib() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


#: The minting process's app and the client its tokens are for.
_minter: dict[str, Any] = {}


def _minter_start(path: str, client_id: str) -> None:
    """In a minting process: another worker on the same store (quiet: the
    issuer notice is for deployments)."""
    logging.getLogger("fides_oauth").setLevel(logging.ERROR)
    app = make_host(Path(path), FIDES_OAUTH_BCRYPT_ROUNDS=4)
    _minter.update(app=app, record=record_of(app, client_id))


def _mint_batch(count: int) -> list[str]:
    return mint(_minter["app"], _minter["record"], count)


def memory(tmp: Path, checkpoints: Sequence[int], batch: int = 5_000) -> list[float]:
    """RSS growth (MB) of a process after verifying each checkpoint's number
    of distinct tokens, the last checkpoint being the total.

    The tokens are signed in other processes (another worker of the same
    store, as in production), which stream batches while this one verifies:
    the run then costs the verifications alone. At most two batches per
    minting process are in flight, and none at a checkpoint, so what is
    measured is what the library keeps, not tokens waiting their turn.
    """
    path = tmp / "memory.sqlite"
    app = make_host(path, FIDES_OAUTH_BCRYPT_ROUNDS=4)
    http = app.test_client()
    cid, _ = new_client(http, root_headers(http))
    state = app.extensions["fides_oauth"]
    minters = max(1, (os.cpu_count() or 2) - 1)
    spawn = multiprocessing.get_context("spawn")  # nothing of this process's
    grown: list[float] = []
    with spawn.Pool(minters, _minter_start, (str(path), cid)) as pool:
        pool.apply(_mint_batch, (1,))  # every minter started, before the baseline
        gc.collect()
        before = rss_kib()
        done = 0
        for checkpoint in checkpoints:
            sizes = deque(
                min(batch, checkpoint - start)
                for start in range(done, checkpoint, batch)
            )
            pending: deque[ApplyResult[list[str]]] = deque()
            while sizes or pending:
                while sizes and len(pending) < 2 * minters:
                    pending.append(pool.apply_async(_mint_batch, (sizes.popleft(),)))
                tokens = pending.popleft().get(timeout=600)
                with app.test_request_context(base_url="http://localhost"):
                    issuer = state.issuer()
                    for token in tokens:
                        verify_token(state.core, token, issuer)
                    db.session.remove()
                done += len(tokens)
                del tokens
            gc.collect()
            grown.append((rss_kib() - before) / 1024)
            say(f"memory: {done:,} tokens verified, RSS +{grown[-1]:.1f} MB")
    return grown
