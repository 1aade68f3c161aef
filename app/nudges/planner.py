"""When nudges are due: pure functions of a user's settings, time zone and an instant.

A daily slot is the user's ``daily_time`` on a local date, moved to the end of the quiet
hours if it falls inside them. Slots are computed from local dates, never by adding 24
hours, so daylight saving time neither skips nor doubles one: a time skipped by a
spring-forward gap happens when the gap ends, a time that happens twice counts once.
"""

from datetime import date, datetime, time, timedelta
from functools import lru_cache

from app.couples.calendar import wall_to_instant, zone


def in_quiet_hours(at: time, quiet_start: time, quiet_end: time) -> bool:
    if quiet_start == quiet_end:
        return False
    if quiet_start < quiet_end:
        return quiet_start <= at < quiet_end
    return at >= quiet_start or at < quiet_end  # the quiet hours span midnight


def local_instant(day: date, at: time, timezone: str) -> datetime:
    """The UTC instant of a wall-clock time on a local date (see ``wall_to_instant``)."""
    return wall_to_instant(datetime.combine(day, at), timezone)


def daily_slot(
    day: date, daily_time: time, quiet_start: time, quiet_end: time, tz: str
) -> datetime:
    at = quiet_end if in_quiet_hours(daily_time, quiet_start, quiet_end) else daily_time
    return local_instant(day, at, tz)


@lru_cache(maxsize=8192)  # most users share a zone and the default times
def next_daily_slot(
    after: datetime, daily_time: time, quiet_start: time, quiet_end: time, tz: str
) -> datetime:
    """The first daily slot strictly after ``after``."""
    day = after.astimezone(zone(tz)).date() - timedelta(days=1)
    while True:
        slot = daily_slot(day, daily_time, quiet_start, quiet_end, tz)
        if slot > after:
            return slot
        day += timedelta(days=1)


def release_time(instant: datetime, quiet_start: time, quiet_end: time, tz: str) -> datetime:
    """``instant``, or the end of the quiet hours it falls in."""
    local = instant.astimezone(zone(tz))
    wall = local.time().replace(tzinfo=None)
    if not in_quiet_hours(wall, quiet_start, quiet_end):
        return instant
    end_day = local.date()
    if quiet_start > quiet_end and wall >= quiet_start:
        end_day += timedelta(days=1)
    return local_instant(end_day, quiet_end, tz)


def local_date(instant: datetime, tz: str) -> date:
    return instant.astimezone(zone(tz)).date()
