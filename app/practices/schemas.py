import uuid
from datetime import date
from typing import Annotated, ClassVar, Literal

from pydantic import AfterValidator, Field

from app.fields import Answer, BodyExample, StrictInput, UtcDateTime
from app.practices.catalogue import BY_PRACTICE, PRACTICE_NAMES, Cadence
from app.practices.models import MAX_TARGET


def _known_practice(value: str) -> str:
    if value not in BY_PRACTICE:
        raise ValueError(f"must be one of: {', '.join(PRACTICE_NAMES)}")
    return value


def _distinct(days: list[int]) -> list[int]:
    if len(set(days)) != len(days):
        raise ValueError("must not name a day twice")
    return sorted(days)


PracticeName = Annotated[
    str, AfterValidator(_known_practice), Field(json_schema_extra={"enum": list(PRACTICE_NAMES)})
]
# Strict: JSON true is not Monday, nor "1" (the body validator checks top-level values only).
Weekday = Annotated[int, Field(ge=1, le=7, strict=True)]
DaysOfWeek = Annotated[
    list[Weekday],
    Field(min_length=1, max_length=7, description="ISO weekdays, Monday 1 to Sunday 7"),
    AfterValidator(_distinct),
]


class StagePublic(Answer):
    title: str
    kinds: list[str]


class PracticePublic(Answer):
    practice: str
    title: str
    description: str
    kinds: list[str] = Field(description="The kinds of bid turned toward that count")
    min_duration_seconds: int | None = Field(description="A bid counts if it lasted this long")
    cadence: Cadence
    default_target: int = Field(description="Per practice day (daily) or per week (weekly)")
    max_target: int
    stages: list[StagePublic] | None = Field(
        description="A ladder's steps, one a week from the plan's start (the last one stays)"
    )


class PlanCreate(StrictInput):
    openapi_examples: ClassVar[dict[str, BodyExample]] = {
        "hug": {
            "summary": "A twenty-second hug every day, from today",
            "value": {"practice": "twenty-second-hug"},
        },
        "weekdays": {
            "summary": "A phone-free dinner on weekdays",
            "description": "Kept Monday to Friday; the partner accepts or declines it.",
            "value": {"practice": "phone-free-dinner", "days_of_week": [1, 2, 3, 4, 5]},
        },
        "weekly": {
            "summary": "Two dates a week",
            "value": {"practice": "weekly-date", "target": 2},
        },
    }

    practice: PracticeName = Field(examples=["twenty-second-hug"])
    target: int | None = Field(
        default=None,
        ge=1,
        le=MAX_TARGET,
        description="Per practice day (daily) or per week (weekly), at most the practice's "
        "max_target; defaults to its default_target",
    )
    days_of_week: DaysOfWeek | None = Field(default=None, description="Defaults to every day")
    starts_on: date | None = Field(
        default=None, description="The couple's local day; defaults to today, at most 7 days back"
    )
    ends_on: date | None = Field(default=None, description="The last day kept; open if absent")


Party = Literal["me", "partner", "coach"]


class PlanPublic(Answer):
    id: uuid.UUID
    practice: str
    title: str
    cadence: Cadence
    target: int
    days_of_week: list[int]
    starts_on: date
    ends_on: date | None
    status: Literal["pending", "active", "declined", "ended"]
    proposed_by: Party | None = Field(description="Null once that account is erased")
    waiting_for: Literal["me", "partner", "both"] | None = Field(
        description="Who has still to accept a pending plan"
    )
    created_at: UtcDateTime
    decided_at: UtcDateTime | None
    ended_at: UtcDateTime | None
    stage: str | None = Field(description="Today's step of a ladder")


class DayPublic(Answer):
    day: date
    done: int
    target: int | None = Field(description="Null for a weekly practice")


class WeekPublic(Answer):
    week_start: date = Field(description="Monday of the couple's local week")
    done: int
    target: int
    partial: bool = Field(description="This week, still under way")


class PlanProgress(Answer):
    id: uuid.UUID
    practice: str
    days: list[DayPublic]
    weeks: list[WeekPublic]
    streak: int
    streak_unit: Literal["days", "weeks"]
    stage: str | None


class Adherence(Answer):
    """What a coach sees of a plan: done / target per week, never which bids."""

    id: uuid.UUID
    practice: str
    title: str
    status: Literal["pending", "active", "declined", "ended"]
    proposed_by: Literal["you", "another_coach", "partner"] | None
    starts_on: date
    ends_on: date | None
    weeks: list[WeekPublic]
