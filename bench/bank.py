"""GET /v1/couple/balance for a couple with 10 bids and one with 100,000: the read must
not grow with the history (target ratio <= 1.2)."""

import random
import time
import uuid
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import insert, select

from app.bids import service as bids
from app.bids.kinds import BY_KIND, KIND_NAMES
from app.bids.models import Bid
from app.couples import service as couples
from app.couples.models import CoupleMember
from app.db import make_engine, make_session_factory, transaction
from bench.common import Figure, fresh_database, median, server
from tests.processes import pair_over_http

REQUESTS = 600
BIG = 100_000


def fill_bids(url: str, headers: dict[str, str], client: httpx.Client, count: int) -> None:
    """Bulk-load ``count`` answered bids over the past year, then rebuild the rollups once."""
    user_id = uuid.UUID(client.get("/v1/me", headers=headers).json()["id"])
    engine = make_engine(url)
    factory = make_session_factory(engine)
    rng = random.Random(count)
    now = datetime.now(UTC)
    with transaction(factory) as session:
        couple_id = session.scalars(
            select(CoupleMember.couple_id).where(CoupleMember.user_id == user_id)
        ).one()
        rows = []
        for _ in range(count):
            kind = rng.choice(KIND_NAMES)
            response = rng.choice(["toward", "toward", "toward", "away", "against", "pending"])
            amount = {"toward": BY_KIND[kind].weight, "away": -1.0, "against": -5.0}.get(
                response, 0.0
            )
            at = now - timedelta(seconds=rng.uniform(0, 365 * 86400))
            rows.append(
                {
                    "id": uuid.uuid4(),
                    "couple_id": couple_id,
                    "logged_by_id": user_id,
                    "initiator_id": user_id,
                    "kind": kind,
                    "occurred_at": at,
                    "response": response,
                    "deposit": amount,
                    "request_hash": "bench",
                    "created_at": at,
                    "updated_at": at,
                }
            )
        for start in range(0, len(rows), 5000):
            session.execute(insert(Bid), rows[start : start + 5000])
        bids.rebuild_bank(session, couples.lock_couple(session, couple_id))
    engine.dispose()


def run(backend: str) -> list[Figure]:
    with fresh_database(backend) as url, server(url) as base, httpx.Client(base_url=base) as client:
        small, _ = pair_over_http(client)
        big, _ = pair_over_http(client)
        fill_bids(url, small, client, 10)
        loaded = time.perf_counter()
        fill_bids(url, big, client, BIG)
        print(
            f"  [{backend}] loaded {BIG:,} bids and rebuilt rollups in "
            f"{time.perf_counter() - loaded:.1f} s"
        )
        timings: dict[str, list[float]] = {"small": [], "big": []}
        for _ in range(20):  # warm up both paths
            client.get("/v1/couple/balance", headers=small)
            client.get("/v1/couple/balance", headers=big)
        for i in range(REQUESTS * 2):  # interleaved, so machine noise hits both alike
            which, headers = ("small", small) if i % 2 == 0 else ("big", big)
            started = time.perf_counter()
            response = client.get("/v1/couple/balance", headers=headers)
            timings[which].append((time.perf_counter() - started) * 1000)
            response.raise_for_status()
    return [
        Figure(
            f"GET balance, {BIG:,} bids, median [{backend}]",
            median(timings["big"]),
            "ms",
            baseline=median(timings["small"]),
            baseline_name="the same request for a couple with 10 bids",
        )
    ]
