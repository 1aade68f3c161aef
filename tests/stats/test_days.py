"""Day boundaries and streaks: pure functions against slow, obviously right versions."""

from datetime import UTC, date, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from app.couples.calendar import day_end, day_start, local_day, zone
from app.stats.streaks import streaks

ZONES = [
    "Europe/Berlin",
    "America/New_York",
    "Australia/Sydney",
    "Asia/Kolkata",
    "Australia/Lord_Howe",  # a half-hour daylight saving shift
    "Pacific/Kiritimati",
    "UTC",
]
instants = st.datetimes(
    min_value=datetime(2020, 1, 1), max_value=datetime(2035, 1, 1), timezones=st.just(UTC)
)


@given(instants, st.sampled_from(ZONES), st.integers(min_value=0, max_value=23))
def test_every_instant_lies_inside_its_day(instant, tz, start_hour):
    day = local_day(instant, tz, start_hour)
    assert day_start(day, tz, start_hour) <= instant < day_end(day, tz, start_hour)


@given(instants, st.sampled_from(ZONES), st.integers(min_value=0, max_value=23))
def test_days_follow_each_other_without_gaps(instant, tz, start_hour):
    day = local_day(instant, tz, start_hour)
    assert day_end(day, tz, start_hour) == day_start(day + timedelta(days=1), tz, start_hour)
    length = day_end(day, tz, start_hour) - day_start(day, tz, start_hour)
    assert timedelta(hours=22) <= length <= timedelta(hours=26)


@given(instants, st.sampled_from(ZONES), st.integers(min_value=0, max_value=23))
def test_local_day_matches_a_minute_by_minute_walk(instant, tz, start_hour):
    """Slow and obvious: the wall clock shifted back by the start hour, read as a date."""
    wall = instant.astimezone(zone(tz))
    shifted = datetime(wall.year, wall.month, wall.day, wall.hour, wall.minute) - timedelta(
        hours=start_hour
    )
    assert local_day(instant, tz, start_hour) == shifted.date()


def slow_streaks(active: set[date], today: date, first: date) -> tuple[int, int]:
    days = [first + timedelta(days=i) for i in range((today - first).days + 1)]
    runs, run = [], 0
    for d in days:
        run = run + 1 if d in active else 0
        runs.append(run)
    current = runs[-1] if today in active else (runs[-2] if len(runs) > 1 else 0)
    return current, max(runs, default=0)


@given(
    st.sets(st.integers(min_value=0, max_value=60), max_size=60),
    st.integers(min_value=0, max_value=60),
)
def test_streaks_match_a_slow_count(offsets, span):
    today = date(2026, 3, 10)
    first = today - timedelta(days=span)
    active = {today - timedelta(days=o) for o in offsets}
    assert streaks(active, today, first) == slow_streaks(active, today, first)


def test_today_without_a_bid_keeps_the_streak():
    today = date(2026, 3, 10)
    active = {today - timedelta(days=n) for n in (1, 2, 3)}
    assert streaks(active, today, today - timedelta(days=29)) == (3, 3)
    assert streaks(active | {today}, today, today - timedelta(days=29)) == (4, 4)
    assert streaks({today - timedelta(days=2)}, today, today - timedelta(days=29)) == (0, 1)
