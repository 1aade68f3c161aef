"""The floor under Tend's write path, PostgreSQL only: POST /v1/bids at c=16 against
bench/floor_app.py (the same statements from a bare FastAPI endpoint on raw psycopg, a
plain def one and an async def one, uvicorn --workers N), beside pgbench running them
without HTTP or Python.

It says how much of the gap between `tend serve` and pgbench belongs to Python, HTTP and
the driver on this machine, and how much to Tend's own layers (ORM, dependencies,
middleware, thread-pool trips): bench/writes.py measures Tend itself in the same table.
"""

import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy.engine import make_url

from app import security
from bench import common, pgbench
from bench.common import (
    Answer,
    Connection,
    Figure,
    cpu_seconds,
    fresh_database,
    load,
    median,
    percentile,
    process_tree,
)
from bench.writes import bid_body
from tests.processes import free_port, stop

CONCURRENCY = 16
REQUESTS = 3000
WARM_UP = 300
BASELINE_SECONDS = 10.0
SECRET = "bench-floor-secret-" + "x" * 32


def run(backend: str, workers: int | None = None) -> list[Figure]:
    if backend != "postgresql":
        print("  [sqlite] the floor is measured on PostgreSQL only")
        return []
    workers = workers or common.SERVER_WORKERS
    couples = CONCURRENCY // 2 + 1
    with fresh_database(backend) as url:
        pgbench.seed(url, couples, datetime.now(UTC).date())
        limit = pgbench.postgres_limit(url, CONCURRENCY, BASELINE_SECONDS)
    print(f"  [{backend}] c={CONCURRENCY}: {limit.how}: {limit.rate:.0f} bid creates/s")
    with fresh_database(backend) as url:
        pgbench.seed(url, couples, datetime.now(UTC).date())
        dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        port = free_port()
        server = subprocess.Popen(
            [
                *(sys.executable, "-m", "uvicorn", "bench.floor_app:app"),
                *("--port", str(port), "--workers", str(workers), "--log-level", "warning"),
            ],
            env={**os.environ, "BENCH_FLOOR_DSN": dsn, "BENCH_FLOOR_SECRET": SECRET},
            text=True,
        )
        try:
            return _measure(f"http://127.0.0.1:{port}", server, workers, limit)
        finally:
            stop(server)


def _measure(
    base: str, server: subprocess.Popen[str], workers: int, limit: pgbench.Limit
) -> list[Figure]:
    _wait_for_bids(base, server)
    now = datetime.now(UTC)
    headers = [
        {
            "Authorization": "Bearer "
            + security.create_access_token(
                pgbench.user_id(n),
                session_version=0,
                secret_key=SECRET,
                now=now,
                lifetime=timedelta(hours=1),
            )
        }
        for n in range(CONCURRENCY)
    ]

    label = f"postgresql, {workers} server process{'es' if workers > 1 else ''}"
    figures = []
    for path, how in (("/v1/bids", "def, thread pool"), ("/async/v1/bids", "async def")):

        async def post_bid(connection: Connection, slot: int, i: int, path: str = path) -> Answer:
            return await connection.post(path, json=bid_body(i), headers=headers[slot])

        load(base, post_bid, WARM_UP, CONCURRENCY)
        processes = process_tree(server.pid)
        cpu = cpu_seconds(processes)
        result = load(base, post_bid, REQUESTS, CONCURRENCY)
        cpu = cpu_seconds(processes) - cpu
        if result.failed:
            raise RuntimeError(f"the floor endpoint ({how}) failed: {result.failures}")
        print(
            f"  [postgresql] c={CONCURRENCY}, {how}: {result.rate:.0f} req/s, "
            f"{cpu / REQUESTS * 1000:.1f} ms of server CPU a request"
        )
        name = f"POST /v1/bids floor ({how}, raw psycopg)"
        figures += [
            Figure(
                f"{name} throughput, c={CONCURRENCY} [{label}]",
                result.rate,
                "req/s",
                baseline=limit.rate,
                baseline_name=f"{limit.how}: the same SQL",
            ),
            Figure(f"{name} p50, c={CONCURRENCY} [{label}]", median(result.latencies), "ms"),
            Figure(
                f"{name} p99, c={CONCURRENCY} [{label}]", percentile(result.latencies, 0.99), "ms"
            ),
        ]
    return figures


def _wait_for_bids(base: str, server: subprocess.Popen[str]) -> None:
    """Until the endpoint answers (a 422 for an empty body means it is up)."""
    for _ in range(300):
        if server.poll() is not None:
            raise RuntimeError(f"the floor server exited with {server.returncode}")
        try:
            httpx.post(f"{base}/v1/bids", json={}, timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError("the floor server did not start")
