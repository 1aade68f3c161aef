"""Streaks: runs of consecutive local days on which the couple turned toward each other."""

from datetime import date, timedelta


def streaks(active_days: set[date], today: date, first_day: date) -> tuple[int, int]:
    """(current streak, longest streak) of consecutive active days within [first_day, today].

    Today without activity yet does not break the current streak: it counts from yesterday.
    """
    current = 0
    cursor = today if today in active_days else today - timedelta(days=1)
    while cursor >= first_day and cursor in active_days:
        current += 1
        cursor -= timedelta(days=1)
    longest = run = 0
    cursor = first_day
    while cursor <= today:
        run = run + 1 if cursor in active_days else 0
        longest = max(longest, run)
        cursor += timedelta(days=1)
    return current, longest
