"""100,000 users with a nudge due in the same minute: the time to enqueue them all (plan)
and to deliver them all to a local fake Expo server. Targets: enqueue < 10 s, deliver <
60 s on PostgreSQL. Baseline: the time to INSERT the same number of bare outbox rows."""

import multiprocessing
import random
import time
import uuid
from datetime import UTC, datetime, timedelta
from datetime import time as clock_time

from sqlalchemy import delete, func, insert, select, update

from app.accounts.models import User
from app.clock import FrozenClock
from app.config import Environment, Settings
from app.couples.models import Couple, CoupleMember
from app.db import make_engine, make_session_factory, transaction
from app.nudges.models import NudgeSettings
from app.outbox import dispatcher
from app.outbox import service as outbox
from app.outbox.models import Device, Notification
from app.planning import service as planning
from bench.common import SECRET, Figure, fresh_database
from tests.fake_expo import FakeExpo

USERS = 100_000
CHUNK = 5_000


def _load(factory, now: datetime) -> None:
    """Users in couples of two, each with one Expo device and a slot due this minute."""
    slot = now - timedelta(seconds=30)
    created = now - timedelta(days=30)
    with transaction(factory) as session:
        for start in range(0, USERS, CHUNK):
            users, couples, members, prefs, devices = [], [], [], [], []
            for i in range(start, start + CHUNK, 2):
                couple_id = uuid.uuid4()
                couples.append(
                    {
                        "id": couple_id,
                        "created_at": created,
                        "timezone": "Europe/Berlin",
                        "day_start_hour": 4,
                        "half_life_hours": 72,
                    }
                )
                for n in (i, i + 1):
                    user_id = uuid.uuid4()
                    users.append(
                        {
                            "id": user_id,
                            "email": f"u{n}@example.com",
                            "password_hash": "x",
                            "display_name": f"P{n}",
                            "timezone": "Europe/Berlin",
                            "role": "partner",
                            "created_at": created,
                            "updated_at": created,
                        }
                    )
                    members.append(
                        {"couple_id": couple_id, "user_id": user_id, "joined_at": created}
                    )
                    prefs.append(
                        {
                            "user_id": user_id,
                            "enabled": True,
                            "discreet": True,
                            "daily_time": clock_time(19),
                            "quiet_start": clock_time(22),
                            "quiet_end": clock_time(7),
                            "daily_suggestion": True,
                            "partner_bid": True,
                            "reconnect": True,
                            "weekly_summary": True,
                            "next_daily_at": slot,
                            "updated_at": created,
                        }
                    )
                    devices.append(
                        {
                            "id": uuid.uuid4(),
                            "user_id": user_id,
                            "provider": "expo",
                            "token": f"ExponentPushToken[{user_id.hex}]",
                            "platform": "ios",
                            "created_at": created,
                            "last_seen_at": created,
                        }
                    )
            session.execute(insert(User), users)
            session.execute(insert(Couple), couples)
            session.execute(insert(CoupleMember), members)
            session.execute(insert(NudgeSettings), prefs)
            session.execute(insert(Device), devices)


def _baseline_insert(factory, now: datetime) -> float:
    """The database's own cost of writing 100,000 outbox rows, without any planning."""
    with transaction(factory, write=False) as session:
        user_ids = list(session.scalars(select(User.id)))
    rows = [
        {
            "id": uuid.uuid4(),
            "user_id": u,
            "kind": "baseline",
            "dedupe_key": f"baseline:{u}",
            "title": "t",
            "body": "b",
            "push_title": "t",
            "push_body": "b",
            "data": {},
            "created_at": now,
            "due_at": now + timedelta(days=9),
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": now + timedelta(days=9),
        }
        for u in user_ids
    ]
    started = time.perf_counter()
    with transaction(factory) as session:
        for start in range(0, len(rows), CHUNK):
            outbox.enqueue(session, rows[start : start + CHUNK])
    elapsed = time.perf_counter() - started
    with transaction(factory) as session:
        session.execute(delete(Notification).where(Notification.kind == "baseline"))
    return elapsed


def _plan_all(url: str, now: datetime, batch_size: int) -> None:
    """One worker's share of planning: batches until none is left (SKIP LOCKED splits them)."""
    engine = make_engine(url)
    factory = make_session_factory(engine)
    grace = timedelta(hours=2)
    while True:
        with transaction(factory) as session:
            if planning.plan_due(session, now, grace=grace, batch_size=batch_size).users == 0:
                break
    engine.dispose()


def _time_planning(url: str, now: datetime, workers: int, batch_size: int) -> float:
    started = time.perf_counter()
    if workers == 1:
        _plan_all(url, now, batch_size)
    else:
        context = multiprocessing.get_context("spawn")
        processes = [
            context.Process(target=_plan_all, args=(url, now, batch_size)) for _ in range(workers)
        ]
        for process in processes:
            process.start()
        for process in processes:
            process.join()
            if process.exitcode != 0:
                raise RuntimeError("a planning worker failed")
    return time.perf_counter() - started


def _reset_plan(factory, now: datetime) -> None:
    with transaction(factory) as session:
        session.execute(delete(Notification))
        session.execute(update(NudgeSettings).values(next_daily_at=now - timedelta(seconds=30)))


def run(backend: str) -> list[Figure]:
    now = datetime(2026, 6, 10, 17, 0, 30, tzinfo=UTC)  # 19:00:30 in Berlin, a Wednesday
    clock = FrozenClock(now)
    with fresh_database(backend) as url, FakeExpo() as expo:
        engine = make_engine(url)
        factory = make_session_factory(engine)
        settings = Settings(
            env=Environment.test,
            database_url=url,
            secret_key=SECRET,
            push_provider="expo",
            expo_base_url=expo.url,
            scheduler="off",
        )
        loading = time.perf_counter()
        _load(factory, now)
        print(f"  [{backend}] loaded {USERS:,} users in {time.perf_counter() - loading:.1f} s")
        baseline = _baseline_insert(factory, now)

        enqueue = _time_planning(url, now, 1, settings.plan_batch_size)
        _reset_plan(factory, now)
        enqueue_two = _time_planning(url, now, 2, settings.plan_batch_size)

        providers = dispatcher.Providers(settings)
        started = time.perf_counter()
        rng = random.Random(0)
        while dispatcher.dispatch_once(factory, providers, clock, settings, rng).claimed:
            pass
        deliver = time.perf_counter() - started
        providers.close()

        with transaction(factory, write=False) as session:
            delivered = session.scalar(
                select(func.count()).where(Notification.status == "delivered")
            )
        engine.dispose()
    if delivered != USERS or len(expo.state.accepted) != USERS:
        raise RuntimeError(f"delivered {delivered}, fake Expo accepted {len(expo.state.accepted)}")
    return [
        Figure(
            f"enqueue {USERS:,} due nudges, 1 worker [{backend}]",
            enqueue,
            "s",
            baseline=baseline,
            baseline_name=f"bare INSERT of {USERS:,} outbox rows",
        ),
        Figure(
            f"enqueue {USERS:,} due nudges, 2 workers [{backend}]",
            enqueue_two,
            "s",
            baseline=baseline,
            baseline_name=f"bare INSERT of {USERS:,} outbox rows",
        ),
        Figure(f"deliver {USERS:,} nudges to fake Expo [{backend}]", deliver, "s"),
    ]
