"""When a person's care window is: pure functions of their settings and a local date.

Everything here is in the person's local dates, so daylight saving time cannot move a
window: a day is a day whatever its length in hours. ``tests/care/test_windows.py`` checks
these against a slow, obviously right version day by day.

- ``cycle``: the next period start is predicted from the logged starts: the last start plus
  the mean of the recent cycle lengths (the last six), or the typical length (28 days
  unless given) while fewer than two starts are logged. The care window runs from
  ``days_before`` days before the predicted start through ``days_after`` days after it.
  Irregular cycles widen the window rather than guess: it starts as early as the shortest
  recent cycle would put the start and ends as late as the longest would. Each logged
  start has its window around it too (the days after a start that has come). A start that
  is late does not stop the prediction: the next cycles are predicted from the last
  logged start, cycle by cycle.
- ``steady``: the chosen ISO weekdays (Monday 1) are care days.
- Days marked by hand are care days in every mode.
"""

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

MIN_CYCLE_DAYS = 15
MAX_CYCLE_DAYS = 60
DEFAULT_CYCLE_DAYS = 28
RECENT_CYCLES = 6
MAX_SIDE_DAYS = 14  # days_before and days_after
MAX_MARKED_SPAN_DAYS = 14  # one POST /v1/me/care/days marks at most this many days
# How far status looks back and ahead for the window around a day and the next one.
LOOK_BACK_DAYS = 2 * MAX_CYCLE_DAYS
LOOK_AHEAD_DAYS = 3 * MAX_CYCLE_DAYS


@dataclass(frozen=True)
class Cycle:
    period_starts: tuple[date, ...]  # ascending, distinct
    typical_length_days: int | None = None
    days_before: int = 5
    days_after: int = 2


@dataclass(frozen=True)
class Plan:
    """What makes a day a care day: one mode's rule and the days marked by hand."""

    mode: str  # "cycle" | "steady" | "days"
    cycle: Cycle | None = None
    weekdays: frozenset[int] = frozenset()
    marked: frozenset[date] = frozenset()


@dataclass(frozen=True)
class Window:
    start: date
    end: date  # inclusive


@dataclass(frozen=True)
class Status:
    in_window: bool
    window: Window | None  # the one running today, else the next one
    next_start: date | None  # the first window that starts after today


@dataclass(frozen=True)
class Spread:
    """The predicted cycle: its mean length and how far the recent ones fell short or over."""

    mean: int
    shorter: int
    longer: int


def spread(cycle: Cycle) -> Spread | None:
    starts = cycle.period_starts
    if not starts:
        return None
    if len(starts) < 2:
        length = cycle.typical_length_days or DEFAULT_CYCLE_DAYS
        return Spread(length, 0, 0)
    recent = starts[-(RECENT_CYCLES + 1) :]
    lengths = [(b - a).days for a, b in itertools.pairwise(recent)]
    mean = (2 * sum(lengths) + len(lengths)) // (2 * len(lengths))  # rounded half up
    return Spread(mean, mean - min(lengths), max(lengths) - mean)


def predicted_start(cycle: Cycle, after: date) -> date | None:
    """The first predicted period start on or after ``after`` (None with no start logged)."""
    shape = spread(cycle)
    if shape is None:
        return None
    last = cycle.period_starts[-1]
    if after <= last:
        return last + timedelta(days=shape.mean)
    cycles = -(-(after - last).days // shape.mean)  # ceiling
    return last + timedelta(days=max(cycles, 1) * shape.mean)


def _cycle_windows(cycle: Cycle, first: date, last: date) -> list[Window]:
    """The cycle's windows that overlap ``first``..``last``, in order of start."""
    shape = spread(cycle)
    if shape is None:
        return []
    before = timedelta(days=cycle.days_before)
    after = timedelta(days=cycle.days_after)
    windows = [
        Window(start - before, start + after)
        for start in cycle.period_starts
        if start - before <= last and start + after >= first
    ]
    early = before + timedelta(days=shape.shorter)
    late = after + timedelta(days=shape.longer)
    newest = cycle.period_starts[-1]
    # The first predicted cycle whose window could reach ``first``, then on until ``last``.
    k = max(1, ((first - newest - late).days) // shape.mean)
    while True:
        start = newest + timedelta(days=k * shape.mean)
        if start - early > last:
            break
        if start + late >= first:
            windows.append(Window(start - early, start + late))
        k += 1
    return windows


def care_days(plan: Plan, first: date, last: date) -> set[date]:
    """Every care day from ``first`` through ``last``."""
    days = {d for d in plan.marked if first <= d <= last}
    if plan.mode == "cycle" and plan.cycle is not None:
        for window in _cycle_windows(plan.cycle, first, last):
            day = max(window.start, first)
            while day <= min(window.end, last):
                days.add(day)
                day += timedelta(days=1)
    elif plan.mode == "steady" and plan.weekdays:
        day = first
        while day <= last:
            if day.isoweekday() in plan.weekdays:
                days.add(day)
            day += timedelta(days=1)
    return days


def runs(days: Iterable[date]) -> list[Window]:
    """Consecutive days joined into windows, in order."""
    result: list[Window] = []
    for day in sorted(set(days)):
        if result and day - result[-1].end == timedelta(days=1):
            result[-1] = Window(result[-1].start, day)
        else:
            result.append(Window(day, day))
    return result


def status(plan: Plan, today: date) -> Status:
    """Whether today is a care day, the window it is in (or the next), and the next start.

    Looks ``LOOK_BACK_DAYS`` back and ``LOOK_AHEAD_DAYS`` ahead: a window running longer
    (every weekday chosen) is reported from and until those edges."""
    first = today - timedelta(days=LOOK_BACK_DAYS)
    last = today + timedelta(days=LOOK_AHEAD_DAYS)
    windows = runs(care_days(plan, first, last))
    current = next((w for w in windows if w.start <= today <= w.end), None)
    upcoming = [w for w in windows if w.start > today]
    following = upcoming[0] if upcoming else None
    return Status(
        in_window=current is not None,
        window=current or following,
        next_start=following.start if following else None,
    )


def cycle_problems(cycle: Cycle, today: date) -> list[str]:
    """What is wrong with logged starts and lengths, in words for a problem's detail."""
    problems = []
    starts: Sequence[date] = cycle.period_starts
    if any(start > today for start in starts):
        problems.append("a period start cannot be in the future")
    if len(set(starts)) != len(starts):
        problems.append("each period start may be logged once")
    elif list(starts) != sorted(starts):
        problems.append("period starts must be in order, oldest first")
    else:
        for a, b in itertools.pairwise(starts):
            length = (b - a).days
            if not MIN_CYCLE_DAYS <= length <= MAX_CYCLE_DAYS:
                problems.append(
                    f"the cycle from {a.isoformat()} to {b.isoformat()} is {length} days; "
                    f"cycles of {MIN_CYCLE_DAYS} to {MAX_CYCLE_DAYS} days are supported"
                )
    return problems
