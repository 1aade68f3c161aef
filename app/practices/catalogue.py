"""The practices a couple may keep, written for Tend: product data, kept in one place like the
bid kinds and the gestures.

A practice counts the bids turned toward of its ``kinds`` that last at least
``min_duration_seconds`` (when it names one). A ``daily`` practice is kept on the days of
the week its plan names, ``target`` times on each; a ``weekly`` one ``target`` times a week.
Titles, descriptions, nudges and stage titles are English message ids (``app.i18n``):
show them through ``words(locale).gettext``. A ladder's ``stages`` advance by week: stage n
is kept in the plan's n-th week (the last stage stays) and only its kinds count.
"""

from dataclasses import dataclass
from enum import StrEnum

from app.i18n import N_


class Cadence(StrEnum):
    daily = "daily"
    weekly = "weekly"


@dataclass(frozen=True)
class Stage:
    title: str
    kinds: tuple[str, ...]


@dataclass(frozen=True)
class Practice:
    practice: str
    title: str
    description: str
    kinds: tuple[str, ...]
    cadence: Cadence
    default_target: int
    max_target: int
    nudge: str  # what the practice nudge says on a practice day
    min_duration_seconds: int | None = None
    stages: tuple[Stage, ...] = ()


CATALOGUE: tuple[Practice, ...] = (
    Practice(
        "six-second-kiss",
        N_("Six-second kiss"),
        N_("Once a day, a kiss that lasts at least six seconds: long enough to mean it."),
        ("kiss", "long_kiss"),
        Cadence.daily,
        1,
        3,
        N_("Today's practice: a kiss of at least six seconds."),
        min_duration_seconds=6,
    ),
    Practice(
        "twenty-second-hug",
        N_("Twenty-second hug"),
        N_("A hug held for twenty seconds, until you both relax."),
        ("hug",),
        Cadence.daily,
        1,
        3,
        N_("Today's practice: a hug held for twenty seconds."),
        min_duration_seconds=20,
    ),
    Practice(
        "thirty-second-kiss",
        N_("Thirty-second kiss"),
        N_("A slow kiss of half a minute, a few times a week."),
        ("long_kiss",),
        Cadence.weekly,
        3,
        7,
        N_("A slow, thirty-second kiss is one of this week's practices."),
        min_duration_seconds=30,
    ),
    Practice(
        "phone-free-dinner",
        N_("Phone-free dinner"),
        N_("Dinner with both phones in another room."),
        ("phone_down",),
        Cadence.daily,
        1,
        2,
        N_("Today's practice: dinner with both phones in another room."),
    ),
    Practice(
        "daily-check-in",
        N_("Daily check-in"),
        N_("Ask how the other really is, and listen to the answer."),
        ("check_in", "question"),
        Cadence.daily,
        1,
        3,
        N_("Today's practice: ask how they are, really, and listen."),
    ),
    Practice(
        "evening-cuddle",
        N_("Evening cuddle"),
        N_("Ten minutes close together at the end of the day, nothing else on."),
        ("cuddle",),
        Cadence.daily,
        1,
        2,
        N_("Today's practice: ten minutes close together this evening."),
        min_duration_seconds=600,
    ),
    Practice(
        "appreciation",
        N_("Appreciation"),
        N_("Say one specific thing you appreciate or thank them for."),
        ("compliment", "thanks"),
        Cadence.daily,
        1,
        5,
        N_("Today's practice: tell them one thing you appreciate."),
    ),
    Practice(
        "weekly-date",
        N_("Weekly date"),
        N_("Time set aside for just the two of you, once a week."),
        ("date",),
        Cadence.weekly,
        1,
        3,
        N_("This week's practice: a date, just the two of you."),
    ),
    Practice(
        "gentle-touch-ladder",
        N_("Gentle touch ladder"),
        N_(
            "For when touch has become hard: a week of holding hands, then hugs, then "
            "cuddles, then massage, one small step a week and no further than feels good."
        ),
        ("hand_hold", "hug", "cuddle", "massage"),
        Cadence.daily,
        1,
        3,
        N_("Today's practice: this week's step on your touch ladder."),
        stages=(
            Stage(N_("Holding hands"), ("hand_hold",)),
            Stage(N_("Hugs"), ("hand_hold", "hug")),
            Stage(N_("Cuddles"), ("hug", "cuddle")),
            Stage(N_("Massage"), ("cuddle", "massage")),
        ),
    ),
)

BY_PRACTICE: dict[str, Practice] = {p.practice: p for p in CATALOGUE}
PRACTICE_NAMES: tuple[str, ...] = tuple(BY_PRACTICE)
