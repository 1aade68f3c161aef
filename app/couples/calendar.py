"""A couple's days: local calendar days in their IANA time zone that begin at their day
start hour (default 4, so a hug at 1 a.m. counts for the evening before).

Daylight saving time never loses or doubles a day: a day is the span between two wall-clock
instants ``start_hour:00``; where that wall time falls in a spring-forward gap, the day turns
at the first instant after the gap, and where it occurs twice, at its first occurrence.
"""

from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from app.couples.models import Couple


@lru_cache(maxsize=1024)
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def wall_to_instant(wall: datetime, timezone: str) -> datetime:
    """The UTC instant of a wall-clock time in ``timezone``.

    A time that happens twice (fall back) is its first occurrence. A time skipped by a
    spring-forward gap is the instant the gap ends: PEP 495 (fold=0) would instead read it
    with the old offset and land as far past the gap's end as the time is past its start.
    """
    tz = zone(timezone)
    instant = wall.replace(tzinfo=tz, fold=0).astimezone(UTC)
    if instant.astimezone(tz).replace(tzinfo=None) == wall:
        return instant
    # In a gap: fold=1 reads it with the new offset, landing before the transition.
    before = wall.replace(tzinfo=tz, fold=1).astimezone(UTC)
    after_offset = instant.astimezone(tz).utcoffset()
    while instant - before > timedelta(seconds=1):  # bisect to the transition
        middle = before + (instant - before) / 2
        if middle.astimezone(tz).utcoffset() == after_offset:
            instant = middle
        else:
            before = middle
    return instant.replace(microsecond=0) if instant.microsecond else instant


def local_day(instant: datetime, timezone: str, day_start_hour: int) -> date:
    """The couple's day that ``instant`` belongs to."""
    wall = instant.astimezone(zone(timezone)).replace(tzinfo=None)
    return (wall - timedelta(hours=day_start_hour)).date()


def day_start(day: date, timezone: str, day_start_hour: int) -> datetime:
    """The instant (UTC) at which ``day`` begins."""
    return wall_to_instant(datetime.combine(day, time(day_start_hour)), timezone)


def day_end(day: date, timezone: str, day_start_hour: int) -> datetime:
    """The instant (UTC) at which ``day`` ends: the start of the next one."""
    return day_start(day + timedelta(days=1), timezone, day_start_hour)


def week_start(day: date) -> date:
    """The Monday that begins ``day``'s week: a couple's weeks run Monday to Sunday, local."""
    return day - timedelta(days=day.weekday())


# The same three, for a couple: its own time zone and day start hour.


def day_of(couple: Couple, instant: datetime) -> date:
    return local_day(instant, couple.timezone, couple.day_start_hour)


def start_of(couple: Couple, day: date) -> datetime:
    return day_start(day, couple.timezone, couple.day_start_hour)


def end_of(couple: Couple, day: date) -> datetime:
    return day_end(day, couple.timezone, couple.day_start_hour)
