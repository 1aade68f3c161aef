"""Planning nudges: the pure slot arithmetic, then ``plan_due`` on SQLite and PostgreSQL.

Daily slots must come once per local date whatever daylight saving time does; the outbox
must never hold a nudge twice; missed slots are sent within the grace window or dropped;
gestures do not repeat within two weeks and lean toward what the couple does least;
reconnect and weekly summaries replace or join the daily suggestion; and a lock screen
only shows what the user allows.
"""

import random
import re
import threading
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import hypothesis
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select, update

from app.accounts.models import User
from app.bank.math import Response
from app.bids import service as bids
from app.bids.kinds import BY_KIND, KIND_NAMES
from app.bids.schemas import BidCreate
from app.db import make_session_factory, transaction
from app.i18n import words
from app.nudges import planner, texts
from app.nudges.models import NudgeSettings
from app.outbox.models import Notification
from app.planning import service as planning
from app.planning.catalogue import BY_KEY, GESTURES
from app.scheduler import Runtime, run_nudges
from tests.factories import EVERY_NUDGE, login, pair, register

MIDNIGHT = time(0)
NO_QUIET = (MIDNIGHT, MIDNIGHT)  # equal start and end: no quiet hours
NIGHT = (time(22), time(7))
LUNCH = (time(13), time(15))
GRACE = timedelta(minutes=120)
BERLIN = "Europe/Berlin"
START = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)  # a Tuesday; 13:00 in Berlin (UTC+1)
SLOT = datetime(2026, 3, 10, 18, 0, tzinfo=UTC)  # 19:00 in Berlin, the default daily time
DISCREET_PUSH = {
    "daily_suggestion": "A small idea for today",
    "reconnect": "A gentle reminder from Tend",
    "weekly_summary": "Your week in numbers is ready",
}


# --- helpers -------------------------------------------------------------------------------


def wall(instant: datetime, tz: str) -> datetime:
    """The naive local wall-clock time of an instant."""
    return instant.astimezone(ZoneInfo(tz)).replace(tzinfo=None)


def local(day: date, at: time, tz: str) -> datetime:
    """The UTC instant of a local wall time that exists once (not in a gap, not repeated)."""
    instant = datetime.combine(day, at).replace(tzinfo=ZoneInfo(tz)).astimezone(UTC)
    assert wall(instant, tz) == datetime.combine(day, at)
    return instant


def occurrences(day: date, at: time, tz: str) -> list[datetime]:
    """Every instant whose wall time is ``at`` on ``day``: none in a gap, two when repeated."""
    target = datetime.combine(day, at)
    found = {target.replace(fold=fold, tzinfo=ZoneInfo(tz)).astimezone(UTC) for fold in (0, 1)}
    return sorted(i for i in found if wall(i, tz) == target)


def gap_end(day: date, at: time, tz: str) -> datetime:
    """The first instant after the spring-forward gap that swallows ``at`` on ``day``."""
    target = datetime.combine(day, at)
    probe = local(day, MIDNIGHT, tz)
    while wall(probe, tz) < target:
        probe += timedelta(minutes=1)
    return probe


def walk_slots(tz: str, at: time, first_day: date, days: int, quiet=NO_QUIET) -> list[datetime]:
    """Slots chained by next_daily_slot, starting just before ``first_day`` begins."""
    slot = local(first_day, MIDNIGHT, tz) - timedelta(seconds=1)
    slots = []
    for _ in range(days):
        slot = planner.next_daily_slot(slot, at, *quiet, tz)
        slots.append(slot)
    return slots


@dataclass
class Totals:
    users: int = 0
    planned: int = 0
    dropped: int = 0


def plan(db, now: datetime, *, grace: timedelta = GRACE, batch_size: int = 2000) -> Totals:
    """Run plan_due until no user is due, as the scheduler does."""
    factory = make_session_factory(db.engine)
    totals = Totals()
    for _ in range(100):
        with transaction(factory) as session:
            result = planning.plan_due(session, now, grace=grace, batch_size=batch_size)
        if result.users == 0:
            return totals
        totals.users += result.users
        totals.planned += result.planned
        totals.dropped += result.dropped
    raise AssertionError("plan_due never ran out of due users")


def walk_clock(db, clock, until: datetime, step: timedelta) -> Totals:
    totals = Totals()
    while clock.now() < until:
        result = plan(db, clock.advance(step))
        totals.planned += result.planned
        totals.dropped += result.dropped
    return totals


def notifications(db, account=None, kind: str | None = None) -> list[Notification]:
    query = select(Notification).order_by(Notification.due_at, Notification.dedupe_key)
    if account is not None:
        query = query.where(Notification.user_id == uid(account))
    if kind is not None:
        query = query.where(Notification.kind == kind)
    with transaction(make_session_factory(db.engine), write=False) as session:
        return list(session.scalars(query))


def daily_rows(db, account) -> dict[date, Notification]:
    """The account's daily nudges (suggestion or reconnect) by their local date."""
    rows = [n for n in notifications(db, account) if n.dedupe_key.startswith("daily:")]
    by_date = {date.fromisoformat(n.dedupe_key.rsplit(":", 1)[1]): n for n in rows}
    assert len(by_date) == len(rows)
    return by_date


def next_daily_at(db, account) -> datetime | None:
    with transaction(make_session_factory(db.engine), write=False) as session:
        prefs = session.get(NudgeSettings, uid(account))
        assert prefs is not None
        return prefs.next_daily_at


def uid(account) -> uuid.UUID:
    return uuid.UUID(account.id)


def put_settings(client, account, *, kinds: dict[str, bool] | None = None, **fields) -> dict:
    body = {**EVERY_NUDGE, "kinds": {**EVERY_NUDGE["kinds"], **(kinds or {})}, **fields}
    response = client.put("/v1/me/nudge-settings", json=body, headers=account.headers)
    assert response.status_code == 200, response.text
    return response.json()


def couple_at(client, clock, at: datetime, tz: str = BERLIN):
    clock.set(at)
    return pair(client, register(client, timezone=tz), register(client, timezone=tz))


def log_bids(db, account, now: datetime, kinds, response: Response = Response.toward) -> None:
    with transaction(make_session_factory(db.engine)) as session:
        user = session.get(User, uid(account))
        for kind in kinds:
            data = BidCreate(id=uuid.uuid4(), kind=kind, initiator="me", response=response)
            bids.create(session, user, data, now=now)


def days_from(first: date, count: int) -> list[date]:
    return [first + timedelta(days=i) for i in range(count)]


# --- 1. the pure planner -------------------------------------------------------------------

TRANSITIONS = [  # (zone, a date with a transition) — spring-forward and fall-back of 2026
    ("Europe/Berlin", date(2026, 3, 29)),
    ("Europe/Berlin", date(2026, 10, 25)),
    ("America/New_York", date(2026, 3, 8)),
    ("America/New_York", date(2026, 11, 1)),
    ("Australia/Sydney", date(2026, 10, 4)),
    ("Australia/Sydney", date(2026, 4, 5)),
    ("Australia/Lord_Howe", date(2026, 10, 4)),
    ("Australia/Lord_Howe", date(2026, 4, 5)),
    ("Asia/Kolkata", date(2026, 3, 29)),
]
DAILY_TIMES = [time(0), time(1, 30), time(1, 45), time(2), time(2, 15), time(2, 30), time(19)]


def test_transition_dates_really_are_transitions():
    """Guards the test data: each date but Kolkata's is 23, 23.5, 24.5 or 25 hours long."""
    for tz, day in TRANSITIONS:
        length = local(day, time(12), tz) - local(day - timedelta(days=1), time(12), tz)
        assert (length == timedelta(hours=24)) == (tz == "Asia/Kolkata"), (tz, day)


@pytest.mark.parametrize("at", DAILY_TIMES, ids=str)
@pytest.mark.parametrize(("tz", "transition"), TRANSITIONS, ids=str)
def test_one_daily_slot_per_local_date_across_dst(tz, transition, at):
    first = transition - timedelta(days=4)
    slots = walk_slots(tz, at, first, 9)
    assert [wall(s, tz).date() for s in slots] == days_from(first, 9)  # none skipped or doubled
    assert slots == sorted(set(slots))
    for slot in slots:
        day = wall(slot, tz).date()
        if occurrences(day, at, tz):  # it exists: exactly the daily time, first occurrence
            assert slot == occurrences(day, at, tz)[0], (tz, day, at)
            assert slot == planner.daily_slot(day, at, *NO_QUIET, tz)


REPEATED = [  # a wall time that happens twice on the fall-back date
    ("Europe/Berlin", date(2026, 10, 25), time(2, 30)),
    ("America/New_York", date(2026, 11, 1), time(1, 30)),
    ("Australia/Sydney", date(2026, 4, 5), time(2, 30)),
    ("Australia/Lord_Howe", date(2026, 4, 5), time(1, 45)),
]


@pytest.mark.parametrize(("tz", "day", "at"), REPEATED)
def test_a_repeated_time_counts_once_at_its_first_occurrence(tz, day, at):
    first, second = occurrences(day, at, tz)
    assert planner.daily_slot(day, at, *NO_QUIET, tz) == first
    after_first = planner.next_daily_slot(first, at, *NO_QUIET, tz)
    assert wall(after_first, tz) == datetime.combine(day + timedelta(days=1), at)
    # Between the two occurrences, the next slot is tomorrow's, not the second one.
    assert planner.next_daily_slot(first + timedelta(minutes=1), at, *NO_QUIET, tz) == after_first
    assert planner.next_daily_slot(second - timedelta(minutes=1), at, *NO_QUIET, tz) == after_first


GAPS = [  # a wall time skipped by the spring-forward gap, and where the gap ends
    ("Europe/Berlin", date(2026, 3, 29), time(2, 30), time(3)),
    ("Europe/Berlin", date(2026, 3, 29), time(2), time(3)),
    ("America/New_York", date(2026, 3, 8), time(2, 30), time(3)),
    ("Australia/Sydney", date(2026, 10, 4), time(2, 30), time(3)),
    ("Australia/Lord_Howe", date(2026, 10, 4), time(2, 15), time(2, 30)),
]


@pytest.mark.parametrize(("tz", "day", "at", "end"), GAPS)
def test_a_time_in_the_gap_happens_when_the_gap_ends(tz, day, at, end):
    """planner.py: "a time skipped by a spring-forward gap happens when the gap ends"."""
    assert occurrences(day, at, tz) == []
    expected = local(day, end, tz)
    assert gap_end(day, at, tz) == expected
    assert planner.daily_slot(day, at, *NO_QUIET, tz) == expected
    before = local(day - timedelta(days=1), time(12), tz)
    assert planner.next_daily_slot(before, at, *NO_QUIET, tz) == expected


@pytest.mark.parametrize(
    ("quiet", "at", "shown"),
    [(NIGHT, time(23), time(7)), (NIGHT, time(5), time(7)), (LUNCH, time(14), time(15))],
)
@pytest.mark.parametrize(("tz", "transition"), TRANSITIONS[:4])
def test_a_daily_time_in_quiet_hours_moves_to_their_end(tz, transition, quiet, at, shown):
    first = transition - timedelta(days=3)
    slots = walk_slots(tz, at, first, 7, quiet)
    assert [wall(s, tz) for s in slots] == [datetime.combine(d, shown) for d in days_from(first, 7)]


def test_in_quiet_hours_boundaries():
    quiet = planner.in_quiet_hours
    # Spanning midnight: 22:00 inclusive to 07:00 exclusive.
    assert quiet(time(22), *NIGHT)
    assert quiet(time(23, 59), *NIGHT)
    assert quiet(MIDNIGHT, *NIGHT)
    assert quiet(time(6, 59), *NIGHT)
    assert not quiet(time(7), *NIGHT)
    assert not quiet(time(21, 59), *NIGHT)
    assert not quiet(time(12), *NIGHT)
    # Within a day: 13:00 inclusive to 15:00 exclusive.
    assert quiet(time(13), *LUNCH)
    assert quiet(time(14, 59), *LUNCH)
    assert not quiet(time(15), *LUNCH)
    assert not quiet(time(12, 59), *LUNCH)
    assert not quiet(MIDNIGHT, *LUNCH)
    assert not quiet(time(23), *LUNCH)
    # Equal start and end: no quiet hours at all.
    for at in (MIDNIGHT, time(7), time(22), time(23, 59)):
        assert not quiet(at, *NO_QUIET)
        assert not quiet(at, time(7), time(7))


DAY = date(2026, 3, 10)
NEXT_DAY = date(2026, 3, 11)


@pytest.mark.parametrize(
    ("quiet", "day", "at", "released"),
    [
        (NIGHT, DAY, time(22), (NEXT_DAY, time(7))),
        (NIGHT, DAY, time(23, 30), (NEXT_DAY, time(7))),
        (NIGHT, NEXT_DAY, MIDNIGHT, (NEXT_DAY, time(7))),
        (NIGHT, NEXT_DAY, time(3), (NEXT_DAY, time(7))),
        (NIGHT, NEXT_DAY, time(6, 59), (NEXT_DAY, time(7))),
        (NIGHT, DAY, time(7), None),
        (NIGHT, DAY, time(21, 59), None),
        (NIGHT, DAY, time(12), None),
        (LUNCH, DAY, time(13), (DAY, time(15))),
        (LUNCH, DAY, time(14, 59), (DAY, time(15))),
        (LUNCH, DAY, time(15), None),
        (LUNCH, DAY, time(12, 59), None),
        (LUNCH, DAY, time(23, 30), None),
        (NO_QUIET, DAY, MIDNIGHT, None),
        (NO_QUIET, DAY, time(23, 30), None),
    ],
)
@pytest.mark.parametrize("tz", [BERLIN, "America/New_York", "Australia/Sydney", "Asia/Kolkata"])
def test_release_time_defers_to_the_end_of_quiet_hours(tz, quiet, day, at, released):
    instant = local(day, at, tz) + timedelta(seconds=30)
    expected = instant if released is None else local(*released, tz)
    assert planner.release_time(instant, *quiet, tz) == expected


@pytest.mark.parametrize(
    ("tz", "evening", "morning_utc"),
    [
        (BERLIN, date(2026, 3, 28), datetime(2026, 3, 29, 5, 0, tzinfo=UTC)),  # now UTC+2
        (BERLIN, date(2026, 10, 24), datetime(2026, 10, 25, 6, 0, tzinfo=UTC)),  # now UTC+1
        ("Australia/Sydney", date(2026, 4, 4), datetime(2026, 4, 4, 21, 0, tzinfo=UTC)),
    ],
)
def test_release_time_across_a_dst_night(tz, evening, morning_utc):
    late = local(evening, time(23, 30), tz)
    assert planner.release_time(late, *NIGHT, tz) == morning_utc


ZONES = [
    BERLIN,
    "America/New_York",
    "Australia/Sydney",
    "Asia/Kolkata",
    "Australia/Lord_Howe",
    "America/St_Johns",
    "Pacific/Chatham",
    "UTC",
]
wall_times = st.builds(time, st.integers(0, 23), st.sampled_from([0, 1, 15, 30, 45, 59]))


@hypothesis.settings(max_examples=300, deadline=None)
@given(
    after=st.datetimes(min_value=datetime(2024, 1, 1), max_value=datetime(2028, 12, 31)),
    tz=st.sampled_from(ZONES),
    at=wall_times,
    quiet=st.one_of(
        st.just(NO_QUIET), st.just(NIGHT), st.just(LUNCH), st.tuples(wall_times, wall_times)
    ),
)
def test_next_daily_slot_is_the_very_next_slot(after, tz, at, quiet):
    after = after.replace(tzinfo=UTC)
    found = planner.next_daily_slot(after, at, *quiet, tz)
    assert after < found < after + timedelta(hours=49)
    day = wall(found, tz).date()
    assert found == planner.daily_slot(day, at, *quiet, tz)
    for offset in range(-3, 3):
        other = planner.daily_slot(day + timedelta(days=offset), at, *quiet, tz)
        assert not after < other < found, (other, found)


# --- 2. planning with the database ---------------------------------------------------------


def test_a_paired_couple_gets_one_daily_suggestion_each(db, client, clock, settings):
    alex, sam = couple_at(client, clock, START)
    loner = register(client, display_name="Loner")
    assert next_daily_at(db, alex) == next_daily_at(db, loner) == SLOT

    clock.set(SLOT - timedelta(minutes=1))
    assert plan(db, clock.now()) == Totals()  # not due yet
    assert notifications(db) == []

    clock.set(SLOT + timedelta(minutes=1))
    run_nudges(
        Runtime(settings=settings, clock=clock, session_factory=make_session_factory(db.engine))
    )
    rows = notifications(db)
    assert sorted(n.user_id for n in rows) == sorted([uid(alex), uid(sam)])
    for account in (alex, sam):
        (row,) = notifications(db, account)
        assert row.kind == "daily_suggestion"
        assert row.dedupe_key == f"daily:{account.id}:2026-03-10"
        assert row.due_at == SLOT
        assert row.gesture in BY_KEY
        assert row.data == {"gesture": row.gesture, "suggested_kind": BY_KEY[row.gesture].kind}
        assert row.body == BY_KEY[row.gesture].text
        assert next_daily_at(db, account) == SLOT + timedelta(days=1)
    # The unpaired partner gets nothing, but their slot still moves on.
    assert notifications(db, loner) == []
    assert next_daily_at(db, loner) == SLOT + timedelta(days=1)

    # Planning again creates nothing: nobody is due.
    assert plan(db, clock.advance(minutes=1)) == Totals()
    assert [n.id for n in notifications(db)] == [n.id for n in rows]


def test_planning_the_same_slot_again_is_deduplicated(db, client, clock):
    alex, sam = couple_at(client, clock, START)
    clock.set(SLOT + timedelta(minutes=5))
    assert plan(db, clock.now()).planned == 2
    first = {(n.id, n.dedupe_key, n.gesture, n.body) for n in notifications(db)}

    # As if a crash lost the cursor's move: the same slot is planned a second time.
    with transaction(make_session_factory(db.engine)) as session:
        session.execute(update(NudgeSettings).values(next_daily_at=SLOT))
    again = plan(db, clock.advance(minutes=1))
    assert again.users == 2
    assert {(n.id, n.dedupe_key, n.gesture, n.body) for n in notifications(db)} == first
    assert next_daily_at(db, alex) == next_daily_at(db, sam) == SLOT + timedelta(days=1)


def test_two_planners_at_once_create_each_nudge_once(db, client, clock):
    accounts = [a for _ in range(3) for a in couple_at(client, clock, START)]
    now = SLOT + timedelta(minutes=5)
    start = threading.Barrier(2)
    results: list[Totals] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            start.wait()
            results.append(plan(db, now, batch_size=2))
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sum(r.planned for r in results) == len(accounts)  # nobody planned twice
    assert sorted(n.user_id for n in notifications(db)) == sorted(map(uid, accounts))


def test_disabled_users_are_not_planned(db, client, clock):
    alex, sam = couple_at(client, clock, START)
    off = put_settings(client, sam, enabled=False)
    assert off["next_daily_at"] is None
    kim, lee = couple_at(client, clock, START)
    # Disabled behind the cursor's back (the cursor still set): the planner checks too.
    with transaction(make_session_factory(db.engine)) as session:
        session.execute(
            update(NudgeSettings).where(NudgeSettings.user_id == uid(lee)).values(enabled=False)
        )
    clock.set(SLOT + timedelta(minutes=5))
    plan(db, clock.now())
    assert [n.kind for n in notifications(db, alex)] == ["daily_suggestion"]
    assert [n.kind for n in notifications(db, kim)] == ["daily_suggestion"]
    assert notifications(db, sam) == notifications(db, lee) == []
    assert next_daily_at(db, sam) is None


def test_moving_the_daily_time_later_the_same_day_sends_no_second_nudge(db, client, clock):
    alex, _ = couple_at(client, clock, START)
    plan(db, SLOT + timedelta(minutes=5))
    clock.set(SLOT + timedelta(minutes=10))
    login(client, alex)
    moved = put_settings(client, alex, daily_time="21:00")
    assert moved["next_daily_at"] == "2026-03-10T20:00:00Z"
    assert plan(db, SLOT + timedelta(hours=2, minutes=5)).users == 1
    assert sorted(daily_rows(db, alex)) == [date(2026, 3, 10)]
    assert next_daily_at(db, alex) == SLOT + timedelta(days=1, hours=2)


# --- 3. daylight saving time through planning ----------------------------------------------

DST_WEEKENDS = [  # (zone, when the couple pairs, daily time, the local dates planned)
    (BERLIN, datetime(2026, 3, 27, 12, tzinfo=UTC), "02:30", date(2026, 3, 28)),
    (BERLIN, datetime(2026, 10, 23, 12, tzinfo=UTC), "02:30", date(2026, 10, 24)),
    ("America/New_York", datetime(2026, 3, 6, 12, tzinfo=UTC), "02:30", date(2026, 3, 7)),
    ("America/New_York", datetime(2026, 10, 30, 12, tzinfo=UTC), "01:30", date(2026, 10, 31)),
]


@pytest.mark.parametrize(("tz", "paired", "daily", "first"), DST_WEEKENDS, ids=str)
def test_every_local_date_gets_one_daily_nudge_across_dst(
    db, client, clock, tz, paired, daily, first
):
    accounts = couple_at(client, clock, paired, tz)
    for account in accounts:
        put_settings(client, account, daily_time=daily, quiet_start="00:00", quiet_end="00:00")
    at = time.fromisoformat(daily)
    totals = walk_clock(db, clock, paired + timedelta(days=4), timedelta(minutes=30))

    assert totals.dropped == 0
    assert totals.planned == len(notifications(db))  # no slot was planned twice
    for account in accounts:
        by_date = daily_rows(db, account)
        assert sorted(by_date) == days_from(first, 4)
        for day, row in by_date.items():
            assert row.due_at == planner.daily_slot(day, at, *NO_QUIET, tz)
            assert wall(row.due_at, tz).date() == day
            if occurrences(day, at, tz):
                assert row.due_at == occurrences(day, at, tz)[0]
            assert timedelta(0) <= row.created_at - row.due_at <= timedelta(minutes=30)


# --- 4. the grace window -------------------------------------------------------------------


def test_missed_slots_are_sent_within_grace_and_dropped_after(db, client, clock, settings):
    grace = timedelta(minutes=settings.nudge_grace_minutes)
    alex, sam = couple_at(client, clock, START)

    # An hour of downtime past the slot: still sent, due at the slot.
    assert plan(db, SLOT + timedelta(hours=1), grace=grace).planned == 2
    assert {n.due_at for n in notifications(db)} == {SLOT}

    # Three days down, back an hour after the third slot: the two before it are dropped.
    back = SLOT + timedelta(days=3, hours=1)
    result = plan(db, back, grace=grace)
    assert (result.planned, result.dropped) == (2, 2)
    for account in (alex, sam):
        by_date = daily_rows(db, account)
        assert sorted(by_date) == [date(2026, 3, 10), date(2026, 3, 13)]
        assert by_date[date(2026, 3, 13)].due_at == SLOT + timedelta(days=3)
        assert next_daily_at(db, account) == SLOT + timedelta(days=4)
    assert plan(db, back + timedelta(minutes=1), grace=grace) == Totals()

    # Down again, back before the day's slot: everything missed is dropped.
    back = datetime(2026, 3, 17, 12, tzinfo=UTC)
    result = plan(db, back, grace=grace)
    assert (result.planned, result.dropped) == (0, 2)
    for account in (alex, sam):
        assert next_daily_at(db, account) == SLOT + timedelta(days=7)  # in the future
    # And nothing is created twice afterwards.
    before = len(notifications(db))
    clock.set(back)
    walk_clock(db, clock, back + timedelta(days=1), timedelta(minutes=30))
    for account in (alex, sam):
        assert sorted(daily_rows(db, account)) == [
            date(2026, 3, 10),
            date(2026, 3, 13),
            date(2026, 3, 17),
        ]
    assert len(notifications(db)) == before + 2


def test_a_slot_just_beyond_grace_is_dropped_one_within_is_kept(db, client, clock):
    alex, _ = couple_at(client, clock, START)
    assert plan(db, SLOT + GRACE + timedelta(minutes=1)).dropped == 2
    assert notifications(db) == []
    assert next_daily_at(db, alex) == SLOT + timedelta(days=1)
    assert plan(db, SLOT + timedelta(days=1) + GRACE).planned == 2
    assert [n.due_at for n in notifications(db, alex)] == [SLOT + timedelta(days=1)]


# --- 5. gestures ---------------------------------------------------------------------------


def test_the_catalogue():
    assert len(GESTURES) >= 40
    assert len({g.key for g in GESTURES}) == len(GESTURES)
    assert len({g.text for g in GESTURES}) == len(GESTURES)
    assert {g.kind for g in GESTURES} <= set(BY_KIND)
    assert {g.kind for g in GESTURES} == set(KIND_NAMES)  # every kind can be suggested
    assert all(g.text.strip() and len(g.key) <= 64 for g in GESTURES)


@pytest.mark.parametrize("missing", KIND_NAMES)
def test_choose_gesture_leans_toward_the_kind_made_least(missing):
    counts = {kind: 3 + i for i, kind in enumerate(KIND_NAMES) if kind != missing}
    for seed in range(20):
        assert planning.choose_gesture(random.Random(seed), set(), counts).kind == missing
    # Its gestures all used lately: the least made kind among the fresh ones.
    used = {g.key for g in GESTURES if g.kind == missing}
    fewest = min(counts.values())
    chosen = planning.choose_gesture(random.Random(1), used, counts)
    assert chosen.key not in used
    assert counts[chosen.kind] == fewest


def test_choose_gesture_when_everything_was_used_lately():
    everything = {g.key for g in GESTURES}
    for seed in range(20):
        assert planning.choose_gesture(random.Random(seed), everything, {}) in GESTURES
    counts = {kind: 1 for kind in KIND_NAMES if kind != "hug"}
    assert planning.choose_gesture(random.Random(0), everything, counts).kind == "hug"


def test_no_gesture_repeats_within_two_weeks(db, client, clock):
    alex, sam = couple_at(client, clock, START)
    for day in range(14):
        plan(db, SLOT + timedelta(days=day, minutes=30))
    for account in (alex, sam):
        by_date = daily_rows(db, account)
        assert sorted(by_date) == days_from(date(2026, 3, 10), 14)
        gestures = [row.gesture for row in by_date.values()]
        assert len(set(gestures)) == 14, gestures


def test_suggestions_lean_toward_what_the_couple_made_least(db, client, clock):
    alex, sam = couple_at(client, clock, START)
    log_bids(db, alex, START + timedelta(hours=1), [k for k in KIND_NAMES if k != "massage"])
    massages = {g.key for g in GESTURES if g.kind == "massage"}
    for day in range(len(massages) + 1):
        plan(db, SLOT + timedelta(days=day, minutes=30))
    for account in (alex, sam):
        rows = [daily_rows(db, account)[d] for d in days_from(date(2026, 3, 10), 4)]
        assert {r.gesture for r in rows[:3]} == massages
        assert all(r.data["suggested_kind"] == "massage" for r in rows[:3])
        assert rows[3].gesture not in massages  # none fresh left: the next least made kind


# --- 6. reconnect ---------------------------------------------------------------------------


def daily_kinds(db, account) -> dict[date, str]:
    return {day: row.kind for day, row in daily_rows(db, account).items()}


def test_a_silent_couple_gets_reconnect_at_most_every_three_days(db, client, clock):
    alex, sam = couple_at(client, clock, START)
    for day in range(7):  # a little later each day, so that no gap is exactly three days
        plan(db, SLOT + timedelta(days=day, minutes=30 + day))
    expected = ["daily_suggestion", "daily_suggestion", "reconnect"]  # 6.5 h, 30.5 h, 54.5 h
    expected += ["daily_suggestion", "daily_suggestion"]  # still silent, but within 3 days
    expected += ["reconnect", "daily_suggestion"]
    for account in (alex, sam):
        kinds = daily_kinds(db, account)
        assert [kinds[d] for d in days_from(date(2026, 3, 10), 7)] == expected
        for row in notifications(db, account, "reconnect"):
            assert row.dedupe_key.startswith(f"daily:{account.id}:")
            assert row.due_at.astimezone(ZoneInfo(BERLIN)).time() == time(19)
            partner = sam if account is alex else alex
            assert row.title == f"A moment for you and {partner.display_name}"
            assert BY_KEY[row.gesture].text in row.body


def test_reconnect_depends_on_age_bids_and_balance(db, client, clock):
    when = SLOT + timedelta(days=3, minutes=30)  # 2026-03-13, 19:30 in Berlin
    silent = couple_at(client, clock, START)
    halved = couple_at(client, clock, START)
    steady = couple_at(client, clock, START)
    young = couple_at(client, clock, when - timedelta(hours=30))
    log_bids(db, halved[0], START + timedelta(hours=1), ["hug"] * 5)
    log_bids(db, steady[0], START + timedelta(hours=1), ["hug"] * 5)
    # A bid within 48 hours for both; one takes from the balance, one adds to it.
    log_bids(db, halved[1], when - timedelta(hours=6), ["other"], Response.against)
    log_bids(db, steady[1], when - timedelta(hours=6), ["hug"])
    plan(db, when)

    def kind_of(account) -> str:
        return daily_kinds(db, account)[date(2026, 3, 13)]

    assert {kind_of(a) for a in silent} == {"reconnect"}  # no bid in 48 h
    assert {kind_of(a) for a in halved} == {"reconnect"}  # the balance fell by half
    assert {kind_of(a) for a in steady} == {"daily_suggestion"}
    assert {kind_of(a) for a in young} == {"daily_suggestion"}  # paired 30 hours ago


def test_reconnect_can_be_turned_off(db, client, clock):
    alex, sam = couple_at(client, clock, START)
    put_settings(client, sam, kinds={"reconnect": False})
    plan(db, SLOT + timedelta(days=3, minutes=30))
    assert daily_kinds(db, alex) == {date(2026, 3, 13): "reconnect"}
    assert daily_kinds(db, sam) == {date(2026, 3, 13): "daily_suggestion"}


# --- 7. weekly summary -----------------------------------------------------------------------


def test_weekly_summary_on_sunday_at_the_daily_slot(db, client, clock):
    alex, sam = couple_at(client, clock, START)
    put_settings(client, sam, kinds={"weekly_summary": False})
    log_bids(db, alex, datetime(2026, 3, 12, 12, tzinfo=UTC), ["hug", "kiss", "smile"])
    for day in range(8):  # Tuesday 10 March to Tuesday 17 March
        plan(db, SLOT + timedelta(days=day, minutes=30))

    (weekly,) = notifications(db, kind="weekly_summary")
    assert weekly.user_id == uid(alex)
    assert weekly.dedupe_key == f"weekly:{alex.id}:2026-W11"
    assert weekly.due_at == SLOT + timedelta(days=5)  # Sunday 15 March, 19:00 in Berlin
    assert weekly.title == f"Your week with {sam.display_name}"
    assert weekly.body.startswith("3 moments this week, 100% turned toward.")
    assert weekly.data == {"bids": 3, "toward": 3, "answered": 3}
    # The daily suggestion still comes on Sunday, and on every other day.
    assert sorted(daily_rows(db, alex)) == days_from(date(2026, 3, 10), 8)
    assert sorted(daily_rows(db, sam)) == days_from(date(2026, 3, 10), 8)


def test_each_partner_reads_their_nudges_in_their_own_language(db, client, clock):
    """Alex's phone speaks German, Sam's French: one couple, two languages, each nudge in
    its reader's, with the numbers written their way."""
    clock.set(START)
    alex = register(client, timezone=BERLIN, accept_language="de-DE,de;q=0.9")
    sam = register(client, timezone=BERLIN, accept_language="fr-FR")
    pair(client, alex, sam)
    log_bids(db, alex, datetime(2026, 3, 12, 12, tzinfo=UTC), ["hug", "kiss"])
    log_bids(db, alex, datetime(2026, 3, 12, 13, tzinfo=UTC), ["smile"], Response.away)
    for day in range(6):  # Tuesday 10 March to Sunday 15 March
        plan(db, SLOT + timedelta(days=day, minutes=30))

    weekly = {n.user_id: n for n in notifications(db, kind="weekly_summary")}
    german, french = weekly[uid(alex)], weekly[uid(sam)]
    assert german.title == f"Deine Woche mit {sam.display_name}"
    assert german.body.startswith("3 Momente diese Woche, 67\u00a0% davon mit Zuwendung")
    assert german.push_body == "Eure Woche in Zahlen ist da"  # discreet: no figures
    assert french.title == f"Ta semaine avec {alex.display_name}"
    assert french.body.startswith("3 moments cette semaine, dont 67\u00a0% accueillis")
    assert french.push_body == "Votre semaine en chiffres est prête"
    daily = {n.user_id: n for n in notifications(db, kind="daily_suggestion")}
    assert daily[uid(alex)].title == "Eine kleine Idee für heute"
    assert daily[uid(sam)].title == "Une petite idée pour aujourd'hui"
    gesture = BY_KEY[daily[uid(sam)].gesture]
    assert daily[uid(sam)].body == words("fr").gettext(gesture.text) != gesture.text


def test_weekly_summary_follows_the_local_sunday(db, client, clock):
    """In Sydney, Sunday 08:00 is Saturday 21:00 UTC: the local date decides, not UTC's."""
    sydney = "Australia/Sydney"
    paired = datetime(2026, 3, 12, 0, tzinfo=UTC)
    alex, _ = couple_at(client, clock, paired, sydney)
    put_settings(client, alex, daily_time="08:00")
    walk_clock(db, clock, paired + timedelta(days=5), timedelta(hours=3))
    (weekly,) = notifications(db, alex, "weekly_summary")
    assert weekly.due_at == local(date(2026, 3, 15), time(8), sydney)
    assert weekly.due_at.date() == date(2026, 3, 14)
    assert weekly.dedupe_key == f"weekly:{alex.id}:2026-W11"
    assert weekly.body.startswith("0 moments this week.")


# --- 8. discretion ---------------------------------------------------------------------------


def test_push_texts_are_discreet_unless_turned_off(db, client, clock):
    alex, sam = couple_at(client, clock, START)
    put_settings(client, sam, discreet=False)
    log_bids(db, alex, START + timedelta(hours=1), ["hug", "kiss"])
    # A daily suggestion on Tuesday, reconnect on Friday, and Sunday's weekly summary.
    for day in (0, 3, 5):
        plan(db, SLOT + timedelta(days=day, minutes=30))

    discreet = notifications(db, alex)
    assert sorted(n.kind for n in discreet) == [
        "daily_suggestion",
        "daily_suggestion",
        "reconnect",
        "weekly_summary",
    ]
    for row in discreet:
        assert row.push_title == texts.APP_NAME == "Tend"
        assert row.push_body == DISCREET_PUSH[row.kind]
        assert not re.search(r"\d", row.push_title + row.push_body)
        assert sam.display_name not in row.push_body
        if row.gesture is not None:
            assert BY_KEY[row.gesture].text in row.body  # the inbox says it in full
            assert BY_KEY[row.gesture].text not in row.push_body

    told = notifications(db, sam)
    assert sorted(n.kind for n in told) == sorted(n.kind for n in discreet)
    for row in told:
        assert row.push_title == row.title
        if row.kind == "daily_suggestion":
            assert row.push_body == row.body == BY_KEY[row.gesture].text
        elif row.kind == "reconnect":
            assert row.push_body == row.body
            assert BY_KEY[row.gesture].text in row.push_body
        else:
            assert row.push_body == row.body
            assert row.push_body.startswith("2 moments this week")
