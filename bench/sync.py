"""Offline sync: a pull of 10 changes for a couple with 100,000 bids of history against the
same pull for a couple with 100 (target ratio <= 1.2: a pull costs its changes, not the
history), and a push of 100 bids logged offline against the same 100 sent as REST creates."""

import time
import uuid
from datetime import UTC, datetime, timedelta

import httpx

from app.clock import epoch_ms
from bench.bank import fill_bids
from bench.common import Figure, fresh_database, median, server
from tests.processes import pair_over_http

PULLS = 300
BIG, SMALL = 100_000, 100
PUSHES = 10
PUSHED = 100


def _log_ten(client: httpx.Client, headers: dict[str, str]) -> None:
    for n in range(10):
        client.post(
            "/v1/bids", json={"kind": "hug", "initiator": "me", "note": f"n{n}"}, headers=headers
        ).raise_for_status()


def _offline_bids(count: int) -> list[dict[str, object]]:
    at = epoch_ms(datetime.now(UTC) - timedelta(hours=1))
    return [
        {
            "id": str(uuid.uuid4()),
            "kind": "hug",
            "initiator": "me",
            "occurred_at": at + n,
            "duration_seconds": 25,
            "note": None,
            "response": "toward",
            "_status": "created",
            "_changed": "",
        }
        for n in range(count)
    ]


def run(backend: str) -> list[Figure]:
    with (
        fresh_database(backend) as url,
        server(url) as base,
        httpx.Client(base_url=base, timeout=60) as client,
    ):
        small, _ = pair_over_http(client)
        big, _ = pair_over_http(client)
        loaded = time.perf_counter()
        fill_bids(url, small, client, SMALL)
        fill_bids(url, big, client, BIG)
        print(f"  [{backend}] loaded {BIG + SMALL:,} bids in {time.perf_counter() - loaded:.1f} s")
        since = {}
        for name, headers in (("small", small), ("big", big)):
            since[name] = epoch_ms(datetime.now(UTC)) - 1
            _log_ten(client, headers)
        timings: dict[str, list[float]] = {"small": [], "big": []}
        for i in range(PULLS * 2):  # interleaved, so machine noise hits both alike
            which, headers = ("small", small) if i % 2 == 0 else ("big", big)
            started = time.perf_counter()
            response = client.get(f"/v1/sync?last_pulled_at={since[which]}", headers=headers)
            timings[which].append((time.perf_counter() - started) * 1000)
            response.raise_for_status()
            assert len(response.json()["changes"]["bids"]["updated"]) == 10

        pushes, creates = [], []
        for _ in range(PUSHES):
            last = epoch_ms(datetime.now(UTC))
            body = {"changes": {"bids": {"created": _offline_bids(PUSHED)}}}
            started = time.perf_counter()
            client.post(
                f"/v1/sync?last_pulled_at={last}", json=body, headers=small
            ).raise_for_status()
            pushes.append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            for raw in _offline_bids(PUSHED):
                client.post(
                    "/v1/bids",
                    json={
                        "kind": "hug",
                        "initiator": "me",
                        "id": raw["id"],
                        "response": "toward",
                        "duration_seconds": 25,
                    },
                    headers=small,
                ).raise_for_status()
            creates.append((time.perf_counter() - started) * 1000)
    return [
        Figure(
            f"GET /v1/sync, 10 changes, {BIG:,} bids of history, median [{backend}]",
            median(timings["big"]),
            "ms",
            baseline=median(timings["small"]),
            baseline_name=f"the same pull for a couple with {SMALL} bids",
        ),
        Figure(
            f"POST /v1/sync, {PUSHED} bids logged offline, median [{backend}]",
            median(pushes),
            "ms",
            baseline=median(creates),
            baseline_name=f"the same {PUSHED} bids as REST creates, one after another",
        ),
    ]
