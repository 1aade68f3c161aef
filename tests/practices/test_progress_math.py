"""The progress math (app.practices.progress) against a slow version that is obviously
right: every bid is placed in the local day whose start and end instants hold it (found by
trying the days around it), and days, weeks and streaks are counted by walking every day.

Time zones with daylight saving time (including a half-hour shift and the southern
hemisphere), every day start hour, any days of the week, plans that start or end mid-week.
"""

from collections import Counter
from datetime import UTC, date, datetime, time, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from app.bids.kinds import KIND_NAMES
from app.couples.calendar import wall_to_instant
from app.practices import progress as math
from app.practices.catalogue import CATALOGUE, Cadence

ZONES = ["Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "America/Santiago", "UTC"]
# Days close to daylight saving changes in those zones, and some ordinary ones.
NEAR_DST = [
    date(2026, 3, 8),
    date(2026, 3, 29),
    date(2026, 4, 5),
    date(2026, 9, 6),
    date(2026, 10, 4),
    date(2026, 10, 25),
    date(2026, 11, 1),
    date(2026, 6, 17),
]


def start_of(day: date, tz: str, hour: int) -> datetime:
    return wall_to_instant(datetime.combine(day, time(hour)), tz)


def slow_day(at: datetime, tz: str, hour: int) -> date:
    utc_day = at.astimezone(UTC).date()
    for offset in range(-2, 3):
        day = utc_day + timedelta(days=offset)
        if start_of(day, tz, hour) <= at < start_of(day + timedelta(days=1), tz, hour):
            return day
    raise AssertionError(f"no day holds {at}")


def keeps(plan: math.Plan, day: date) -> bool:
    started = day >= plan.starts_on
    not_ended = plan.ends_on is None or day <= plan.ends_on
    return started and not_ended and day.isoweekday() in plan.days_of_week


def slow_counts(plan: math.Plan, moments: list[math.Moment], tz: str, hour: int) -> Counter[date]:
    found: Counter[date] = Counter()
    for moment in moments:
        day = slow_day(moment.at, tz, hour)
        if not keeps(plan, day):
            continue
        kinds = plan.practice.kinds
        if plan.practice.stages:
            week_number = (day - plan.starts_on).days // 7
            kinds = plan.practice.stages[min(week_number, len(plan.practice.stages) - 1)].kinds
        if moment.kind not in kinds:
            continue
        minimum = plan.practice.min_duration_seconds or 0
        if (moment.duration_seconds or 0) >= minimum:
            found[day] += 1
    return found


def slow_week(plan: math.Plan, done: Counter[date], monday: date, today: date) -> tuple | None:
    target = made = 0
    kept_any = False
    for n in range(7):
        day = monday + timedelta(days=n)
        if not keeps(plan, day):
            continue
        kept_any = True
        if plan.practice.cadence == Cadence.daily:
            target += plan.target
            if day <= today:
                made += min(done[day], plan.target)
        elif day <= today:
            made += done[day]
    if not kept_any:
        return None
    if plan.practice.cadence == Cadence.weekly:
        target, made = plan.target, min(made, plan.target)
    return (monday, made, target, monday <= today <= monday + timedelta(days=6))


def slow_streak(plan: math.Plan, done: Counter[date], today: date) -> int:
    last = today if plan.ends_on is None else min(today, plan.ends_on)
    if plan.practice.cadence == Cadence.daily:
        met = []
        day = plan.starts_on
        while day <= last:
            if keeps(plan, day):
                met.append((day, done[day] >= plan.target))
            day += timedelta(days=1)
        if met and met[-1] == (today, False):
            met.pop()
    else:
        monday = plan.starts_on - timedelta(days=plan.starts_on.weekday())
        met = []
        while monday <= last:
            week = slow_week(plan, done, monday, today)
            if week is not None:
                met.append((week[3], week[1] >= week[2]))
            monday += timedelta(weeks=1)
        if met and met[-1] == (True, False):
            met.pop()
    run = 0
    for _, was_met in reversed(met):
        if not was_met:
            break
        run += 1
    return run


@st.composite
def scenarios(draw: st.DrawFn) -> tuple:
    practice = draw(st.sampled_from(CATALOGUE))
    today = draw(
        st.one_of(
            st.sampled_from(NEAR_DST),
            st.dates(min_value=date(2026, 1, 1), max_value=date(2026, 12, 31)),
        )
    ) + timedelta(days=draw(st.integers(-3, 3)))
    starts_on = today - timedelta(days=draw(st.integers(0, 60)))
    ends_on = draw(st.one_of(st.none(), st.integers(0, 70).map(lambda n: starts_on + timedelta(n))))
    days = draw(st.sets(st.integers(1, 7), min_size=1))
    plan = math.Plan(
        practice=practice,
        target=draw(st.integers(1, practice.max_target)),
        days_of_week=frozenset(days),
        starts_on=starts_on,
        ends_on=ends_on,
    )
    tz = draw(st.sampled_from(ZONES))
    hour = draw(st.integers(0, 23))
    # Bids crowd a few days, some of them a second either side of where a day begins.
    hot_days = draw(st.lists(st.integers(-2, (today - starts_on).days + 1), min_size=1, max_size=6))
    anywhere = st.builds(
        lambda n, s: (
            datetime.combine(starts_on + timedelta(n), time(0), tzinfo=UTC) + timedelta(seconds=s)
        ),
        st.sampled_from(hot_days),
        st.integers(-86400, 86400),
    )
    at_a_boundary = st.builds(
        lambda n, s: start_of(starts_on + timedelta(n), tz, hour) + timedelta(seconds=s),
        st.sampled_from(hot_days),
        st.sampled_from([-1, 0, 1]),
    )
    moments = draw(
        st.lists(
            st.builds(
                math.Moment,
                at=st.one_of(anywhere, at_a_boundary),
                kind=st.sampled_from(sorted({*practice.kinds, *KIND_NAMES[:4], "date"})),
                duration_seconds=st.sampled_from([None, 0, 5, 6, 19, 20, 30, 599, 600, 900]),
            ),
            max_size=40,
        )
    )
    return plan, moments, tz, hour, today, draw(st.integers(1, 10))


@settings(max_examples=400, deadline=None)
@given(scenarios())
def test_counts_days_weeks_and_streaks_agree_with_the_slow_version(scenario: tuple) -> None:
    plan, moments, tz, hour, today, weeks = scenario
    done = math.counts(plan, moments, tz, hour)
    assert done == slow_counts(plan, moments, tz, hour)

    result = math.progress(plan, done, today, weeks)
    first = today - timedelta(days=today.weekday()) - timedelta(weeks=weeks - 1)
    mondays = [first + timedelta(weeks=n) for n in range(weeks)]
    expected_weeks = [w for m in mondays if (w := slow_week(plan, done, m, today)) is not None]
    assert [(w.week_start, w.done, w.target, w.partial) for w in result.weeks] == expected_weeks
    expected_days = [
        first + timedelta(days=n)
        for n in range(7 * weeks)
        if first + timedelta(days=n) <= today and keeps(plan, first + timedelta(days=n))
    ]
    assert [d.day for d in result.days] == expected_days
    assert all(d.done == done[d.day] for d in result.days)
    assert result.streak == slow_streak(plan, done, today)
    assert all(w.done <= w.target for w in result.weeks)
