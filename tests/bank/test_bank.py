"""The balance kept in rollups equals a slow, obviously right recomputation.

Hypothesis drives random sequences of create / answer / edit / delete / backdate / clock
moves / couple setting changes through the services, on SQLite and PostgreSQL; after
every step the stored figures are compared with a full recomputation from the bids.
"""

import threading
import time
import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from app.accounts.models import User
from app.bank import service as bank
from app.bank.math import Response, balance_at, deposit, scale
from app.bids import service as bids
from app.bids.kinds import BY_KIND, KIND_NAMES
from app.bids.models import Bid
from app.bids.schemas import BidCreate, BidUpdate
from app.clock import FrozenClock
from app.couples import service as couples
from app.couples.calendar import day_end, local_day
from app.couples.models import Couple, CoupleMember
from app.couples.schemas import CoupleUpdate
from app.db import make_engine, make_session_factory, transaction
from app.lifecycle.service import change_couple
from app.main import create_app
from tests.factories import pair

RELATIVE = 1e-9
START = datetime(2026, 3, 25, 12, 0, tzinfo=UTC)  # Europe's spring-forward falls inside


def assert_close(stored: float, expected: float, magnitude: float) -> None:
    assert abs(stored - expected) <= RELATIVE * max(1.0, magnitude), (stored, expected)


def make_couple(session, now: datetime, timezone: str) -> tuple[Couple, User, User]:
    users = [
        User(
            email=f"{uuid.uuid4().hex}@example.com",
            password_hash="x",
            display_name=name,
            timezone=timezone,
            role="partner",
            created_at=now,
            updated_at=now,
        )
        for name in ("A", "B")
    ]
    session.add_all(users)
    couple = Couple(created_at=now, timezone=timezone, day_start_hour=4, half_life_hours=72)
    session.add(couple)
    session.flush()
    session.add_all(CoupleMember(couple_id=couple.id, user_id=u.id, joined_at=now) for u in users)
    session.flush()
    return couple, users[0], users[1]


def check_against_recomputation(session, couple_id: uuid.UUID, now: datetime) -> None:
    couple = session.get(Couple, couple_id)
    session.refresh(couple)
    rows = session.scalars(select(Bid).where(Bid.couple_id == couple_id)).all()
    for bid in rows:  # each stored deposit follows from the bid itself
        kind = BY_KIND[bid.kind]
        assert bid.deposit == deposit(
            bid.response,
            weight=kind.weight,
            linger_seconds=kind.linger_seconds,
            duration_seconds=bid.duration_seconds,
        )
    deposits = [(b.occurred_at, b.deposit) for b in rows]
    half_life = couple.half_life_hours

    assert_close(
        bank.balance_now(session, couple, now),
        balance_at(deposits, now, half_life),
        scale(deposits, now, half_life),
    )
    for day, value in bank.history(session, couple, 10, now):
        at = day_end(day, couple.timezone, couple.day_start_hour)
        if local_day(now, couple.timezone, couple.day_start_hour) == day:
            expected, at = balance_at(deposits, now, half_life), now
        else:
            expected = balance_at([d for d in deposits if d[0] < at], at, half_life)
        assert_close(value, expected, scale(deposits, at, half_life))

    summary = bank.summary(session, couple, now)
    today = local_day(now, couple.timezone, couple.day_start_hour)
    week_start = day_end(today - timedelta(days=7), couple.timezone, couple.day_start_hour)
    before = balance_at([d for d in deposits if d[0] < week_start], week_start, half_life)
    assert_close(
        summary.change_7d,
        balance_at(deposits, now, half_life) - before,
        scale(deposits, now, half_life) + scale(deposits, week_start, half_life),
    )
    in_week = [
        a
        for t, a in deposits
        if local_day(t, couple.timezone, couple.day_start_hour) > today - timedelta(days=7)
    ]
    assert_close(summary.deposits_7d, sum(a for a in in_week if a > 0), sum(map(abs, in_week)))
    assert_close(summary.withdrawals_7d, -sum(a for a in in_week if a < 0), sum(map(abs, in_week)))


responses = st.sampled_from([r.value for r in Response])
minutes_back = st.integers(min_value=0, max_value=7 * 24 * 60)

operation = st.one_of(
    st.tuples(
        st.just("create"),
        st.sampled_from(KIND_NAMES),
        st.sampled_from(["me", "partner"]),
        minutes_back,
        st.one_of(st.none(), st.integers(min_value=0, max_value=600)),
        responses,
        st.booleans(),
    ),
    st.tuples(st.just("respond"), st.integers(min_value=0), responses, st.booleans()),
    st.tuples(
        st.just("edit"),
        st.integers(min_value=0),
        st.sampled_from(KIND_NAMES),
        minutes_back,
        st.one_of(st.none(), st.integers(min_value=0, max_value=600)),
    ),
    st.tuples(st.just("delete"), st.integers(min_value=0)),
    st.tuples(st.just("wait"), st.integers(min_value=1, max_value=60 * 60 * 30)),
    st.tuples(
        st.just("settings"),
        st.sampled_from(["Europe/Berlin", "America/New_York", "Asia/Kolkata", "Australia/Sydney"]),
        st.integers(min_value=0, max_value=23),
        st.integers(min_value=24, max_value=720),
    ),
)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    timezone=st.sampled_from(["Europe/Berlin", "America/New_York", "Asia/Kolkata"]),
    operations=st.lists(operation, min_size=1, max_size=25),
)
# Always tried: a bid backdated to a day before later days that already have rows.
@example(
    timezone="Europe/Berlin",
    operations=[
        ("create", "hug", "me", 0, None, "toward", True),
        ("create", "kiss", "partner", 30 * 60, None, "toward", False),
        ("delete", 0),
    ],
)
def test_stored_balance_equals_recomputation(db, timezone, operations):
    factory = make_session_factory(db.engine)
    clock = FrozenClock(START)
    with transaction(factory) as session:
        couple, a, b = make_couple(session, clock.now(), timezone)
    logged: list[tuple[uuid.UUID, User]] = []

    for op in operations:
        now = clock.now()
        with transaction(factory) as session:
            users = {a.id: session.get(User, a.id), b.id: session.get(User, b.id)}
            if op[0] == "create":
                _, kind, initiator, back, duration, response, by_a = op
                author = users[a.id] if by_a else users[b.id]
                data = BidCreate(
                    id=uuid.uuid4(),
                    kind=kind,
                    initiator=initiator,
                    occurred_at=now - timedelta(minutes=back),
                    duration_seconds=duration,
                    response=Response(response),
                )
                bid, _ = bids.create(session, author, data, now=now)
                logged.append((bid.id, author))
            elif op[0] == "respond" and logged:
                _, index, response, by_a = op
                bid_id, _ = logged[index % len(logged)]
                bid = session.get(Bid, bid_id)
                bids.respond(
                    session, users[a.id if by_a else b.id], bid, Response(response), now=now
                )
            elif op[0] == "edit" and logged:
                _, index, kind, back, duration = op
                bid_id, author = logged[index % len(logged)]
                bid = session.get(Bid, bid_id)
                fields = {"kind": kind, "occurred_at": now - timedelta(minutes=back)}
                if duration is not None:
                    fields["duration_seconds"] = duration
                change = BidUpdate(**fields)
                bids.update(session, users[author.id], bid, change, now=now)
            elif op[0] == "delete" and logged:
                bid_id, author = logged.pop(op[1] % len(logged))
                bids.delete(session, users[author.id], session.get(Bid, bid_id), now=now)
            elif op[0] == "wait":
                clock.advance(seconds=op[1])
            elif op[0] == "settings":
                _, zone, start_hour, half_life = op
                locked = couples.lock_couple(session, couple.id)
                change = CoupleUpdate(
                    timezone=zone, day_start_hour=start_hour, half_life_hours=half_life
                )
                change_couple(session, locked, change, now=clock.now())
        with transaction(factory, write=False) as session:
            check_against_recomputation(session, couple.id, clock.now())


def test_two_partners_writing_at_once_lose_no_update(db, settings, clock):
    """2 × 200 concurrent bids with answers; the stored balance then equals recomputation."""
    app = create_app(settings, clock=clock, engine=db.engine)
    with TestClient(app) as setup:
        alex, sam = pair(setup)
    errors: list[str] = []
    start = threading.Barrier(2)

    def write(account, seed: int) -> None:
        with TestClient(app) as client:
            start.wait()
            for i in range(200):
                body = {
                    "id": str(uuid.uuid4()),
                    "kind": KIND_NAMES[(seed + i) % len(KIND_NAMES)],
                    "initiator": "me",
                    "occurred_at": (
                        clock.now() - timedelta(minutes=(i * 37 + seed) % 9000)
                    ).isoformat(),
                    "response": ["toward", "away", "against", "toward"][i % 4],
                }
                response = client.post("/v1/bids", json=body, headers=account.headers)
                if response.status_code != 201:
                    errors.append(response.text)

    threads = [threading.Thread(target=write, args=(acct, n)) for n, acct in enumerate((alex, sam))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []

    factory = make_session_factory(db.engine)
    with transaction(factory, write=False) as session:
        couple_id = session.scalars(
            select(CoupleMember.couple_id).where(CoupleMember.user_id == uuid.UUID(alex.id))
        ).one()
        assert len(session.scalars(select(Bid.id).where(Bid.couple_id == couple_id)).all()) == 400
        check_against_recomputation(session, couple_id, clock.now())


def test_local_days_follow_the_day_start_hour():
    berlin = "Europe/Berlin"
    one_am = datetime(2026, 3, 10, 0, 0, tzinfo=UTC)  # 01:00 in Berlin
    assert local_day(one_am, berlin, 4) == date(2026, 3, 9)
    assert local_day(one_am, berlin, 0) == date(2026, 3, 10)


@pytest.mark.parametrize(
    ("zone", "day", "hours"),
    [
        ("Europe/Berlin", date(2026, 3, 29), 23),
        ("Europe/Berlin", date(2026, 10, 25), 25),
        ("America/New_York", date(2026, 3, 8), 23),
        ("America/New_York", date(2026, 11, 1), 25),
        ("Australia/Sydney", date(2026, 4, 5), 25),
        ("Australia/Sydney", date(2026, 10, 4), 23),
        ("Asia/Kolkata", date(2026, 3, 29), 24),
    ],
)
def test_dst_days_are_one_day_long_however_many_hours(zone, day, hours):
    # Day start 0: the transition falls inside the day that begins at midnight.
    length = day_end(day, zone, 0) - day_end(day - timedelta(days=1), zone, 0)
    assert length == timedelta(hours=hours)


@pytest.mark.parametrize("second", ["answer", "edit", "delete"])
def test_a_writer_that_waited_for_the_couple_starts_from_what_was_committed(
    db, settings, clock, second
):
    """Alex's and Sam's changes to one bid queue on the couple's lock (held here by another
    connection); the one that goes second must see the first one's answer, not the bid as
    it was read before waiting."""
    app = create_app(settings, clock=clock, engine=db.engine)
    with TestClient(app) as setup:
        alex, sam = pair(setup)
        bid = setup.post(
            "/v1/bids", json={"kind": "hug", "initiator": "me"}, headers=alex.headers
        ).json()
    path = f"/v1/bids/{bid['id']}"
    requests = {
        "answer": ("PUT", f"{path}/response", {"response": "against"}, alex),
        "edit": ("PATCH", path, {"kind": "long_kiss", "duration_seconds": 40}, alex),
        "delete": ("DELETE", path, None, alex),
    }
    first = ("PUT", f"{path}/response", {"response": "toward"}, sam)
    statuses: dict[str, int] = {}

    def send(name: str, request: tuple) -> None:
        method, url, body, account = request
        with TestClient(app) as client:
            response = client.request(method, url, json=body, headers=account.headers)
            statuses[name] = response.status_code

    holder = make_engine(db.url)
    try:
        # A writer of another engine: on SQLite it holds the database's write lock.
        with transaction(make_session_factory(holder), write=True) as session:
            session.execute(
                select(Couple.id).where(Couple.id == uuid.UUID(bid["couple_id"])).with_for_update()
            )
            threads = [threading.Thread(target=send, args=("first", first))]
            threads[0].start()
            time.sleep(0.5)  # the first one reads the bid, then waits
            threads.append(threading.Thread(target=send, args=("second", requests[second])))
            threads[1].start()
            time.sleep(0.5)
        for t in threads:
            t.join()
    finally:
        holder.dispose()

    assert statuses["first"] == 200
    assert statuses["second"] in (200, 204)
    factory = make_session_factory(db.engine)
    with transaction(factory, write=False) as session:
        check_against_recomputation(session, uuid.UUID(bid["couple_id"]), clock.now())
