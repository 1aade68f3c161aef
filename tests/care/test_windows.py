"""The care window math (app.care.windows) against a slow, obviously right version.

The slow version decides each day on its own: a day is a cycle care day when some cycle
k (0 for the logged starts, 1, 2, ... predicted from the last one) puts a window over it,
found by trying every k up to far past the day; status walks the days one by one. The
fast version computes windows arithmetically and merges them.
"""

import itertools
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.care import windows
from app.care.service import local_today
from app.care.windows import (
    DEFAULT_CYCLE_DAYS,
    MAX_CYCLE_DAYS,
    MIN_CYCLE_DAYS,
    Cycle,
    Plan,
    Window,
)

DAY = timedelta(days=1)


# --- the slow version ----------------------------------------------------------------------


def slow_is_cycle_day(cycle: Cycle, day: date) -> bool:
    starts = list(cycle.period_starts)
    if not starts:
        return False
    if len(starts) < 2:
        lengths = [cycle.typical_length_days or DEFAULT_CYCLE_DAYS]
    else:
        recent = starts[-7:]
        lengths = [(recent[i + 1] - recent[i]).days for i in range(len(recent) - 1)]
    mean = round(sum(lengths) / len(lengths) + 1e-9)  # half up: lengths are whole days
    shortest, longest = min(lengths), max(lengths)
    for start in starts:
        if (
            start - timedelta(days=cycle.days_before)
            <= day
            <= start + timedelta(days=cycle.days_after)
        ):
            return True
    k = 1
    while True:
        predicted = starts[-1] + timedelta(days=k * mean)
        first = predicted - timedelta(days=cycle.days_before + (mean - shortest))
        last = predicted + timedelta(days=cycle.days_after + (longest - mean))
        if first <= day <= last:
            return True
        if first > day:
            return False
        k += 1


def slow_is_care_day(plan: Plan, day: date) -> bool:
    if day in plan.marked:
        return True
    if plan.mode == "cycle" and plan.cycle is not None:
        return slow_is_cycle_day(plan.cycle, day)
    if plan.mode == "steady":
        return day.isoweekday() in plan.weekdays
    return False


def slow_status(plan: Plan, today: date) -> windows.Status:
    back = today - timedelta(days=windows.LOOK_BACK_DAYS)
    ahead = today + timedelta(days=windows.LOOK_AHEAD_DAYS)

    def care(day: date) -> bool:
        return back <= day <= ahead and slow_is_care_day(plan, day)

    def run_around(day: date) -> Window:
        start = end = day
        while care(start - DAY):
            start -= DAY
        while care(end + DAY):
            end += DAY
        return Window(start, end)

    current = run_around(today) if care(today) else None
    day = (current.end if current else today) + DAY
    following = None
    while day <= ahead:
        if care(day):
            following = run_around(day)
            break
        day += DAY
    return windows.Status(
        in_window=current is not None,
        window=current or following,
        next_start=following.start if following else None,
    )


# --- strategies ----------------------------------------------------------------------------

days_ = st.dates(min_value=date(2020, 1, 1), max_value=date(2035, 12, 31))


@st.composite
def cycles(draw: st.DrawFn, regular: bool = False) -> Cycle:
    first = draw(days_)
    count = draw(st.integers(0, 9))
    base = draw(st.integers(MIN_CYCLE_DAYS, MAX_CYCLE_DAYS))
    starts = [first]
    for _ in range(max(count - 1, 0)):
        length = base if regular else draw(st.integers(MIN_CYCLE_DAYS, MAX_CYCLE_DAYS))
        starts.append(starts[-1] + timedelta(days=length))
    if count == 0:
        starts = []
    return Cycle(
        tuple(starts),
        draw(st.none() | st.integers(MIN_CYCLE_DAYS, MAX_CYCLE_DAYS)),
        draw(st.integers(0, windows.MAX_SIDE_DAYS)),
        draw(st.integers(0, windows.MAX_SIDE_DAYS)),
    )


@st.composite
def plans(draw: st.DrawFn) -> Plan:
    mode = draw(st.sampled_from(["cycle", "steady", "days"]))
    marked = draw(st.frozensets(days_, max_size=20))
    return Plan(
        mode,
        draw(cycles()) if mode == "cycle" else None,
        draw(st.frozensets(st.integers(1, 7))) if mode == "steady" else frozenset(),
        marked,
    )


def today_near(plan: Plan) -> st.SearchStrategy[date]:
    """A day near where things happen: around the logged starts or the marked days."""
    anchors = [*(plan.cycle.period_starts if plan.cycle else ()), *plan.marked] or [
        date(2026, 3, 10)
    ]
    return st.sampled_from(anchors).flatmap(
        lambda anchor: st.integers(-90, 400).map(lambda n: anchor + timedelta(days=n))
    )


# --- the properties ------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_care_days_match_the_slow_version(data):
    plan = data.draw(plans())
    first = data.draw(today_near(plan))
    last = first + timedelta(days=data.draw(st.integers(0, 150)))
    fast = windows.care_days(plan, first, last)
    slow = set()
    day = first
    while day <= last:
        if slow_is_care_day(plan, day):
            slow.add(day)
        day += DAY
    assert fast == slow


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_status_matches_the_slow_version(data):
    plan = data.draw(plans())
    today = data.draw(today_near(plan))
    assert windows.status(plan, today) == slow_status(plan, today)


@settings(max_examples=200, deadline=None)
@given(cycles(regular=True), st.integers(1, 400))
def test_a_regular_cycle_predicts_its_own_rhythm(cycle, days_on):
    """With two starts or more a regular cycle's next start is the last plus its length,
    and every window has the width days_before + 1 + days_after: nothing to widen."""
    if len(cycle.period_starts) < 2:
        return
    length = (cycle.period_starts[1] - cycle.period_starts[0]).days
    last = cycle.period_starts[-1]
    assert windows.predicted_start(cycle, last) == last + timedelta(days=length)
    after = last + timedelta(days=days_on)
    predicted = windows.predicted_start(cycle, after)
    assert predicted is not None and predicted >= after
    assert (predicted - last).days % length == 0
    assert predicted - after < timedelta(days=length)
    width = cycle.days_before + 1 + cycle.days_after
    if width < length:  # windows of one cycle do not touch the next
        plan = Plan("cycle", cycle)
        state = windows.status(plan, predicted)
        assert state.in_window and state.window is not None
        assert (state.window.end - state.window.start).days + 1 == width


@settings(max_examples=200, deadline=None)
@given(cycles())
def test_irregular_cycles_widen_the_window_rather_than_guess(cycle):
    """The predicted window covers the start the shortest and the longest recent cycle
    would give: it is never narrower than a regular cycle's."""
    if len(cycle.period_starts) < 2:
        return
    recent = cycle.period_starts[-7:]
    lengths = [(b - a).days for a, b in itertools.pairwise(recent)]
    last = cycle.period_starts[-1]
    plan = Plan("cycle", cycle)
    for length in (min(lengths), max(lengths)):
        would_be = last + timedelta(days=length)
        assert windows.care_days(plan, would_be, would_be) == {would_be}


def test_fewer_than_two_starts_use_the_typical_length_or_28_days():
    one = Cycle((date(2026, 12, 20),), typical_length_days=None, days_before=2, days_after=1)
    assert windows.predicted_start(one, date(2026, 12, 21)) == date(2027, 1, 17)
    typical = Cycle((date(2026, 12, 20),), typical_length_days=35)
    assert windows.predicted_start(typical, date(2026, 12, 21)) == date(2027, 1, 24)
    assert windows.predicted_start(Cycle(()), date(2026, 12, 21)) is None
    assert windows.status(Plan("cycle", Cycle(())), date(2026, 12, 21)) == windows.Status(
        False, None, None
    )


def test_a_window_across_the_year_end():
    """Starts on Dec 4 and Jan 1 (28 days): the next on Jan 29; one on Dec 31 spans years."""
    cycle = Cycle((date(2025, 12, 3), date(2025, 12, 31)), days_before=5, days_after=2)
    state = windows.status(Plan("cycle", cycle), date(2025, 12, 30))
    assert state.window == Window(date(2025, 12, 26), date(2026, 1, 2))
    assert state.in_window and state.next_start == date(2026, 1, 23)


def test_a_window_already_running_when_care_is_turned_on():
    """Care turned on mid-window: today is in it from the first moment."""
    cycle = Cycle((date(2026, 2, 1), date(2026, 3, 1)), days_before=5, days_after=2)
    state = windows.status(Plan("cycle", cycle), date(2026, 3, 28))  # predicted Mar 29
    assert state.in_window and state.window == Window(date(2026, 3, 24), date(2026, 3, 31))


def test_a_late_start_keeps_predicting_cycle_by_cycle():
    cycle = Cycle((date(2026, 1, 1), date(2026, 1, 29)), days_before=1, days_after=1)
    # Feb 26 predicted but not logged: the next ones still come every 28 days.
    assert windows.predicted_start(cycle, date(2026, 3, 1)) == date(2026, 3, 26)
    assert windows.status(Plan("cycle", cycle), date(2026, 3, 25)).in_window


# --- time zones and daylight saving time ---------------------------------------------------

ZONES = ["Europe/Berlin", "America/New_York", "Australia/Sydney", "Pacific/Auckland", "UTC"]


@pytest.mark.parametrize("zone", ZONES)
def test_across_daylight_saving_time_a_care_day_is_a_whole_local_day(zone):
    """Hour by hour through both of the zone's DST changes of 2026: an instant is in the
    window exactly when its local date is a care day, so a 23- or 25-hour day is neither
    cut short nor doubled."""
    plan = Plan("steady", weekdays=frozenset({7}), marked=frozenset({date(2026, 3, 29)}))
    instant, end = datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 11, 10, tzinfo=UTC)
    first, last = local_today(zone, instant), local_today(zone, end)
    seen: dict[date, int] = {}
    while instant < end:
        today = local_today(zone, instant)
        assert today == instant.astimezone(ZoneInfo(zone)).date()
        in_window = windows.status(plan, today).in_window
        assert in_window == slow_is_care_day(plan, today)
        if in_window and first < today < last:  # whole local days only
            seen[today] = seen.get(today, 0) + 1
        instant += timedelta(hours=1)
    # Every Sunday is seen for as many hours as that local day has: 23, 24 or 25.
    assert set(seen.values()) <= {23, 24, 25}
    assert min(seen) <= date(2026, 3, 8) and max(seen) >= date(2026, 11, 1)
    if zone != "UTC":
        assert {23, 25} <= set(seen.values())


@settings(max_examples=100, deadline=None)
@given(
    st.sampled_from(ZONES),
    st.datetimes(min_value=datetime(2024, 1, 1), max_value=datetime(2030, 1, 1)),
)
def test_the_local_day_is_the_zones_calendar_day(zone, naive):
    instant = naive.replace(tzinfo=UTC)
    today = local_today(zone, instant)
    local = instant.astimezone(ZoneInfo(zone))
    assert today == local.date()
