"""POST /v1/bids throughput and latency at concurrency 16, against a real `tend serve`.

Baseline: GET /healthz at the same concurrency on the same server (the HTTP stack's floor).
"""

import asyncio
import time
import uuid

import httpx

from bench.common import Figure, fresh_database, median, percentile, server
from tests.processes import pair_over_http

CONCURRENCY = 16
REQUESTS = 3000


async def _load(base: str, make_request, total: int) -> tuple[float, list[float]]:
    latencies: list[float] = []
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(total):
        queue.put_nowait(i)
    limits = httpx.Limits(max_connections=CONCURRENCY)

    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=60) as client:

        async def worker(slot: int) -> None:
            while True:
                try:
                    i = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                started = time.perf_counter()
                response = await make_request(client, slot, i)
                latencies.append((time.perf_counter() - started) * 1000)
                if response.status_code >= 300:
                    raise RuntimeError(f"{response.status_code}: {response.text}")

        started = time.perf_counter()
        await asyncio.gather(*(worker(slot) for slot in range(CONCURRENCY)))
        elapsed = time.perf_counter() - started
    return total / elapsed, latencies


def run(backend: str, workers: int = 1) -> list[Figure]:
    with fresh_database(backend) as url, server(url, workers=workers) as base:
        with httpx.Client(base_url=base) as client:
            # 8 couples, both partners writing: 16 writers.
            partners = [h for _ in range(CONCURRENCY // 2) for h in pair_over_http(client)]

        async def post_bid(client: httpx.AsyncClient, slot: int, i: int) -> httpx.Response:
            body = {
                "id": str(uuid.uuid4()),
                "kind": "hug",
                "initiator": "me",
                "duration_seconds": 25,
                "response": "toward",
            }
            return await client.post("/v1/bids", json=body, headers=partners[slot])

        async def healthz(client: httpx.AsyncClient, slot: int, i: int) -> httpx.Response:
            return await client.get("/healthz")

        asyncio.run(_load(base, post_bid, 200))  # warm up
        base_rate, _ = asyncio.run(_load(base, healthz, REQUESTS))
        rate, latencies = asyncio.run(_load(base, post_bid, REQUESTS))
    label = f"[{backend}, {workers} server process{'es' if workers > 1 else ''}]"
    return [
        Figure(
            f"POST /v1/bids throughput, c={CONCURRENCY} {label}",
            rate,
            "req/s",
            baseline=base_rate,
            baseline_name="GET /healthz at the same concurrency",
        ),
        Figure(f"POST /v1/bids p50 {label}", median(latencies), "ms"),
        Figure(f"POST /v1/bids p99 {label}", percentile(latencies, 0.99), "ms"),
    ]
