"""POST /v1/bids throughput and latency at concurrency 16 and 64, against `tend serve
--workers N` (N = bench.common.SERVER_WORKERS, 2) with the production settings.

Each client is one partner (c=16: 8 couples, both partners writing; c=64: 32 couples;
c=256: 128 couples);
every other bid is answered "toward" as it is logged (it moves the day's balance), the
others are left "pending" (the partner gets a nudge in the outbox, same transaction).
While each runs, another process asks GET /healthz every 10 ms (its p99 is reported).

Baseline: the database's own limit for the same work, the statements one bid create
runs without Tend in between (bench/pgbench.py): pgbench at the same concurrency on
PostgreSQL, the sqlite3 module on one connection on SQLite. Target ratio >= 0.5. GET
/healthz at c=16 is reported too: the HTTP stack's own ceiling on the same server. And
the throughput at each higher concurrency beside the one at the lowest, in the same run:
a burst queues (app.admission) and must not cost throughput (target ratio >= 0.9).
"""

import uuid
from datetime import UTC, datetime

import httpx

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
    print_server_errors,
    process_tree,
    serve,
)
from tests.factories import EVERY_NUDGE
from tests.processes import healthz_probe, pair_over_http

CONCURRENCIES = (16, 64, 256)
REQUESTS = 3000  # per concurrency
WARM_UP = 300
BASELINE_SECONDS = 10.0
# pgbench's connections at most: PostgreSQL's default max_connections is 100, and no pool
# of a deployment opens more for one burst (Tend's admission keeps each process's below).
PGBENCH_MAX_CLIENTS = 64


def bid_body(i: int) -> dict[str, object]:
    return {
        "id": str(uuid.uuid4()),
        "kind": pgbench.KIND,
        "initiator": "me",
        "duration_seconds": 25,
        "response": "toward" if i % 2 == 0 else "pending",
    }


def _limits(backend: str, concurrencies: tuple[int, ...]) -> dict[int, pgbench.Limit]:
    """The database's limit at each concurrency, on its own seeded database."""
    with fresh_database(backend) as url:
        pgbench.seed(url, max(concurrencies) // 2 + 1, datetime.now(UTC).date())
        if backend == "sqlite":  # one writer whatever the concurrency: measured once
            limit = pgbench.sqlite_limit(url, BASELINE_SECONDS)
            return dict.fromkeys(concurrencies, limit)
        return {
            c: pgbench.postgres_limit(url, min(c, PGBENCH_MAX_CLIENTS), BASELINE_SECONDS)
            for c in concurrencies
        }


def run(
    backend: str, workers: int | None = None, concurrencies: tuple[int, ...] | None = None
) -> list[Figure]:
    workers = workers or common.SERVER_WORKERS
    concurrencies = concurrencies or CONCURRENCIES
    limits = _limits(backend, concurrencies)
    for c, limit in limits.items():
        print(f"  [{backend}] c={c}: {limit.how}: {limit.rate:.0f} bid creates/s")
    label = f"{backend}, {workers} server process{'es' if workers > 1 else ''}"
    figures = []
    with fresh_database(backend) as url, serve(url, workers=workers) as running:
        with httpx.Client(base_url=running.base, timeout=60) as client:
            partners = [h for _ in range(max(concurrencies) // 2) for h in pair_over_http(client)]
            for headers in partners:
                client.put(
                    "/v1/me/nudge-settings", json=EVERY_NUDGE, headers=headers
                ).raise_for_status()

        async def post_bid(connection: Connection, slot: int, i: int) -> Answer:
            return await connection.post("/v1/bids", json=bid_body(i), headers=partners[slot])

        async def healthz(connection: Connection, slot: int, i: int) -> Answer:
            return await connection.get("/healthz")

        load(running.base, post_bid, WARM_UP, max(concurrencies))
        floor = load(running.base, healthz, REQUESTS, min(concurrencies))
        if floor.failed:
            raise RuntimeError(f"GET /healthz failed: {floor.failures}")
        figures.append(
            Figure(
                f"GET /healthz throughput, c={min(concurrencies)} [{label}]", floor.rate, "req/s"
            )
        )
        servers = process_tree(running.process.pid)
        rates: dict[int, float] = {}
        for c in concurrencies:
            cpu = cpu_seconds(servers)
            with healthz_probe(running.base) as probe:
                result = load(running.base, post_bid, REQUESTS, c)
            cpu = cpu_seconds(servers) - cpu
            rates[c] = result.rate
            print(
                f"  [{backend}] c={c}: {result.rate:.0f} req/s, {cpu / REQUESTS * 1000:.1f} ms "
                f"of server CPU a request; the load generator used {result.client_cpu:.0%} "
                "of a core"
            )
            if result.failed:
                # Kept in the table rather than ending the whole run: a finding to fix.
                print(f"  [{backend}] c={c}: FAILED answers by status: {result.failures}")
                print_server_errors(running)
                figures.append(
                    Figure(f"POST /v1/bids failed answers, c={c} [{label}]", result.failed, "count")
                )
            figures += [
                Figure(
                    f"POST /v1/bids throughput, c={c} [{label}]",
                    result.rate,
                    "req/s",
                    baseline=limits[c].rate,
                    baseline_name=f"{limits[c].how}: the same SQL; target ratio >= 0.5",
                ),
                Figure(f"POST /v1/bids p50, c={c} [{label}]", median(result.latencies), "ms"),
                Figure(
                    f"POST /v1/bids p99, c={c} [{label}]",
                    percentile(result.latencies, 0.99),
                    "ms",
                ),
                Figure(f"GET /healthz p99 during POST /v1/bids c={c} [{label}]", probe.p99, "ms"),
            ]
            if probe.failures:
                figures.append(
                    Figure(f"GET /healthz failed answers, c={c} [{label}]", probe.failures, "count")
                )
            if c != concurrencies[0]:
                figures.append(
                    Figure(
                        f"POST /v1/bids burst throughput, c={c} [{label}]",
                        result.rate,
                        "req/s",
                        baseline=rates[concurrencies[0]],
                        baseline_name=f"the same run at c={concurrencies[0]}; target >= 0.9",
                    )
                )
    return figures
