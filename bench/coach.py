"""The coach's progress view, GET /v1/coach/couples/{id}/progress?weeks=52 and ?weeks=12,
for a couple with a year of history (10 bids a day for 365 days, bulk-loaded, rollups
rebuilt by the app's own ``bids.rebuild_bank``), against a real `tend serve`.

Baseline: the same request for a couple with one week of history (10 bids a day for 7
days), interleaved with the first so machine noise hits both alike. The view reads the
day rollups of the weeks asked for and the bids' initiators of those weeks, so some growth
with the history is expected up to 52 weeks; the ratio says how much. Each view gets 200
requests per couple, or as many as fit in MAX_SECONDS when the view is slow.
"""

import random
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import insert

from app.bids import service as bids
from app.bids.kinds import BY_KIND, KIND_NAMES
from app.bids.models import Bid
from app.couples import service as couples
from app.db import make_engine, make_session_factory, transaction
from bench.common import Figure, fresh_database, median, percentile, serve, verify_address
from tests.processes import pair_over_http

REQUESTS = 200  # per couple and view...
MAX_SECONDS = 60.0  # ...or fewer, when they take longer than this (a slow view)
BIDS_PER_DAY = 10
YEAR_DAYS = 365
WEEK_DAYS = 7
WEEKS = (52, 12)


@dataclass
class Coached:
    couple_id: str
    partner_ids: list[uuid.UUID]


def _coached_couple(client: httpx.Client, coach_code: str) -> Coached:
    """A couple whose two partners both let the coach see their progress."""
    a, b = pair_over_http(client, ("Alex", "Sam"))
    for headers in (a, b):
        client.post(
            "/v1/couple/coaches", json={"coach_code": coach_code}, headers=headers
        ).raise_for_status()
    couple_id = client.get("/v1/couple", headers=a).json()["id"]
    ids = [uuid.UUID(client.get("/v1/me", headers=h).json()["id"]) for h in (a, b)]
    return Coached(couple_id, ids)


def fill(url: str, couple: Coached, days: int, per_day: int = BIDS_PER_DAY) -> int:
    """``per_day`` bids on each of the last ``days`` days, by either partner, most answered,
    bulk-inserted; then the couple's day rollups rebuilt once. Returns the bid count."""
    engine = make_engine(url)
    factory = make_session_factory(engine)
    rng = random.Random(days)
    now = datetime.now(UTC) - timedelta(minutes=1)
    couple_id = uuid.UUID(couple.couple_id)
    rows = []
    for day in range(days):
        for _ in range(per_day):
            kind = rng.choice(KIND_NAMES)
            response = rng.choice(["toward", "toward", "toward", "away", "against", "pending"])
            amount = {"toward": BY_KIND[kind].weight, "away": -1.0, "against": -5.0}.get(
                response, 0.0
            )
            at = now - timedelta(days=day, seconds=rng.uniform(0, 86400))
            logger, other = rng.sample(couple.partner_ids, 2)
            rows.append(
                {
                    "id": uuid.uuid4(),
                    "couple_id": couple_id,
                    "logged_by_id": logger,
                    "initiator_id": rng.choice([logger, logger, other]),
                    "kind": kind,
                    "occurred_at": at,
                    "response": response,
                    "responded_by_id": None if response == "pending" else other,
                    "responded_at": None if response == "pending" else at,
                    "deposit": amount,
                    "request_hash": "bench",
                    "created_at": at,
                    "updated_at": at,
                }
            )
    with transaction(factory) as session:
        for start in range(0, len(rows), 5000):
            session.execute(insert(Bid), rows[start : start + 5000])
        bids.rebuild_bank(session, couples.lock_couple(session, couple_id))
    engine.dispose()
    return len(rows)


def run(backend: str) -> list[Figure]:
    with (
        fresh_database(backend) as url,
        serve(url, workers=1) as running,
        httpx.Client(base_url=running.base, timeout=60) as client,
    ):
        email = f"{uuid.uuid4().hex}@example.com"
        coach = client.post(
            "/v1/auth/register",
            json={
                "email": email,
                "password": "a long test passphrase",
                "display_name": "Robin Coach",
                "role": "coach",
            },
        )
        coach.raise_for_status()
        verify_address(url, running.base, email)
        headers = {"Authorization": f"Bearer {coach.json()['access_token']}"}
        code = client.get("/v1/coach/profile", headers=headers).json()["code"]
        year, week = _coached_couple(client, code), _coached_couple(client, code)
        loading = time.perf_counter()
        count = fill(url, year, YEAR_DAYS)
        print(
            f"  [{backend}] loaded {count:,} bids over {YEAR_DAYS} days and rebuilt "
            f"rollups in {time.perf_counter() - loading:.1f} s"
        )
        fill(url, week, WEEK_DAYS)

        figures = []
        for weeks in WEEKS:
            paths = {
                name: f"/v1/coach/couples/{c.couple_id}/progress?weeks={weeks}"
                for name, c in (("year", year), ("week", week))
            }
            for _ in range(10):  # warm up both
                for path in paths.values():
                    client.get(path, headers=headers).raise_for_status()
            timings: dict[str, list[float]] = {"year": [], "week": []}
            deadline = time.perf_counter() + MAX_SECONDS
            for i in range(REQUESTS * 2):  # interleaved
                which = "year" if i % 2 == 0 else "week"
                if which == "year" and time.perf_counter() > deadline:
                    print(f"  [{backend}] weeks={weeks}: time is up after {i // 2} pairs")
                    break
                started = time.perf_counter()
                response = client.get(paths[which], headers=headers)
                timings[which].append((time.perf_counter() - started) * 1000)
                response.raise_for_status()
                assert len(response.json()["weeks"]) == weeks
            for stat, measure in (("p50", median), ("p99", _p99)):
                figures.append(
                    Figure(
                        f"coach progress weeks={weeks}, a year of history, {stat} [{backend}]",
                        measure(timings["year"]),
                        "ms",
                        baseline=measure(timings["week"]),
                        baseline_name="the same request for a couple with 1 week of history",
                    )
                )
    return figures


def _p99(samples: list[float]) -> float:
    return percentile(samples, 0.99)
