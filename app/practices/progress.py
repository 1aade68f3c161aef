"""A practice's progress: pure functions of a plan, the bids turned toward and a local day.

A bid counts for the local day it occurred on in the couple's zone (``app.couples.calendar``)
when its kind is one the practice counts that day (a ladder's stage, by week since the plan
started) and it lasted the practice's minimum duration. A ``daily`` practice's day is met
with ``target`` such bids on a day of its plan; its week is done / target summed over the
plan's days in that week, each day counting at most its target. A ``weekly`` practice's
week is met with ``target`` such bids on the plan's days of that week.
"""

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from app.couples.calendar import local_day, week_start
from app.practices.catalogue import Cadence, Practice

WEEK = timedelta(weeks=1)
STREAK_HORIZON_DAYS = 400


@dataclass(frozen=True)
class Plan:
    practice: Practice
    target: int
    days_of_week: frozenset[int]  # ISO weekdays, Monday 1
    starts_on: date
    ends_on: date | None  # the last day kept, or open


@dataclass(frozen=True)
class Moment:
    """A bid turned toward, with only what a practice looks at."""

    at: datetime
    kind: str
    duration_seconds: int | None


@dataclass(frozen=True)
class DayDone:
    day: date
    done: int
    target: int | None  # a weekly practice has no target per day


@dataclass(frozen=True)
class WeekDone:
    week_start: date
    done: int
    target: int
    partial: bool  # the current week, still under way


@dataclass(frozen=True)
class Progress:
    days: list[DayDone]
    weeks: list[WeekDone]
    streak: int
    streak_unit: str  # days or weeks
    stage: int | None  # the current stage's index, for a ladder


def in_plan(plan: Plan, day: date) -> bool:
    return day >= plan.starts_on and (plan.ends_on is None or day <= plan.ends_on)


def is_practice_day(plan: Plan, day: date) -> bool:
    return in_plan(plan, day) and day.isoweekday() in plan.days_of_week


def stage_on(plan: Plan, day: date) -> int | None:
    """The ladder's stage on ``day``: the n-th week since the plan started keeps stage n."""
    if not plan.practice.stages:
        return None
    return min(max((day - plan.starts_on).days, 0) // 7, len(plan.practice.stages) - 1)


def kinds_on(plan: Plan, day: date) -> tuple[str, ...]:
    stage = stage_on(plan, day)
    return plan.practice.kinds if stage is None else plan.practice.stages[stage].kinds


def counts(
    plan: Plan, moments: Iterable[Moment], timezone: str, day_start_hour: int
) -> Counter[date]:
    """Per local practice day, the bids that count for the plan."""
    minimum = plan.practice.min_duration_seconds
    found: Counter[date] = Counter()
    for moment in moments:
        day = local_day(moment.at, timezone, day_start_hour)
        if not is_practice_day(plan, day) or moment.kind not in kinds_on(plan, day):
            continue
        if minimum is not None and (moment.duration_seconds or 0) < minimum:
            continue
        found[day] += 1
    return found


def _week_days(start: date) -> list[date]:
    return [start + timedelta(days=n) for n in range(7)]


def week_done(plan: Plan, done: Counter[date], start: date, today: date) -> WeekDone | None:
    """The week that begins on Monday ``start``; None if the plan keeps none of its days."""
    days = [d for d in _week_days(start) if is_practice_day(plan, d)]
    if not days:
        return None
    partial = start <= today < start + WEEK
    if plan.practice.cadence == Cadence.daily:
        target = plan.target * len(days)
        made = sum(min(done[d], plan.target) for d in days if d <= today)
    else:
        target = plan.target
        made = min(sum(done[d] for d in days if d <= today), plan.target)
    return WeekDone(start, made, target, partial)


def streak(plan: Plan, done: Counter[date], today: date) -> int:
    """Consecutive practice days (or weeks) met, up to today; today (or this week) not met
    yet does not break it. Days the plan does not keep neither count nor break it."""
    last = today if plan.ends_on is None else min(today, plan.ends_on)
    horizon = max(plan.starts_on, today - timedelta(days=STREAK_HORIZON_DAYS))
    run = 0
    if plan.practice.cadence == Cadence.daily:
        day = last
        while day >= horizon:
            if is_practice_day(plan, day):
                if done[day] >= plan.target:
                    run += 1
                elif day != today:
                    break
            day -= timedelta(days=1)
        return run
    start = week_start(last)
    while start + timedelta(days=6) >= horizon:
        week = week_done(plan, done, start, today)
        if week is not None:
            if week.done >= week.target:
                run += 1
            elif not week.partial:
                break
        start -= WEEK
    return run


def window(today: date, weeks: int) -> tuple[date, date]:
    """The first and last day of the ``weeks`` local weeks that end with today's."""
    first = week_start(today) - (weeks - 1) * WEEK
    return first, first + weeks * WEEK - timedelta(days=1)


def progress(plan: Plan, done: Counter[date], today: date, weeks: int) -> Progress:
    """Days and weeks of the last ``weeks`` weeks that the plan keeps (this one last, days up
    to today), the streak and, for a ladder, today's stage."""
    first, _ = window(today, weeks)
    starts = [first + n * WEEK for n in range(weeks)]
    week_list = [w for s in starts if (w := week_done(plan, done, s, today)) is not None]
    day_target = plan.target if plan.practice.cadence == Cadence.daily else None
    day_list = [
        DayDone(day, done[day], day_target)
        for s in starts
        for day in _week_days(s)
        if day <= today and is_practice_day(plan, day)
    ]
    unit = "days" if plan.practice.cadence == Cadence.daily else "weeks"
    stage = stage_on(plan, min(today, plan.ends_on or today)) if in_plan(plan, today) else None
    return Progress(day_list, week_list, streak(plan, done, today), unit, stage)
