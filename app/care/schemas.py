from datetime import date
from typing import ClassVar, Literal, Self

from pydantic import Field, model_validator

from app.care.windows import MAX_CYCLE_DAYS, MAX_SIDE_DAYS, MIN_CYCLE_DAYS
from app.fields import Answer, BodyExample, CalendarDate, StrictInput, UtcDateTime

Mode = Literal["cycle", "steady", "days"]
MAX_PERIOD_STARTS = 36


class CycleSettings(StrictInput):
    period_starts: list[CalendarDate] = Field(
        default_factory=list,
        max_length=MAX_PERIOD_STARTS,
        description="Logged first days of periods, oldest first, none in the future.",
    )
    typical_length_days: int | None = Field(
        default=None,
        ge=MIN_CYCLE_DAYS,
        le=MAX_CYCLE_DAYS,
        description="Used while fewer than two starts are logged (28 if not given).",
    )
    days_before: int = Field(default=5, ge=0, le=MAX_SIDE_DAYS)
    days_after: int = Field(default=2, ge=0, le=MAX_SIDE_DAYS)


class SteadySettings(StrictInput):
    weekdays: list[int] = Field(
        min_length=1, max_length=7, description="ISO weekdays, Monday 1 to Sunday 7."
    )

    @model_validator(mode="after")
    def _weekdays(self) -> Self:
        if any(not 1 <= d <= 7 for d in self.weekdays):
            raise ValueError("weekdays are 1 (Monday) to 7 (Sunday)")
        if len(set(self.weekdays)) != len(self.weekdays):
            raise ValueError("each weekday may be given once")
        return self


class CareSettingsIn(StrictInput):
    """The whole care settings (PUT). Turning care on is the person's explicit consent to
    the terms GET /v1/me/care shows; turning it off deletes every care record."""

    openapi_examples: ClassVar[dict[str, BodyExample]] = {
        "off": {
            "summary": "Turn care off: every care record is deleted",
            "value": {"enabled": False},
        },
        "cycle": {
            "summary": "A cycle, from logged period starts, shared with the partner",
            "value": {
                "enabled": True,
                "mode": "cycle",
                "share_with_partner": True,
                "cycle": {
                    "period_starts": ["2025-12-16", "2026-01-13", "2026-02-10"],
                    "days_before": 5,
                    "days_after": 2,
                },
            },
        },
        "steady": {
            "summary": "Steady care days (peri- or post-menopause): Mondays and Thursdays",
            "value": {
                "enabled": True,
                "mode": "steady",
                "share_with_partner": True,
                "steady": {"weekdays": [1, 4]},
            },
        },
    }

    enabled: bool
    mode: Mode | None = Field(default=None, description="Required when enabled.")
    share_with_partner: bool = False
    cycle: CycleSettings | None = None
    steady: SteadySettings | None = None

    @model_validator(mode="after")
    def _coherent(self) -> Self:
        if not self.enabled:
            if self.share_with_partner:
                raise ValueError("care is off: there is nothing to share; turn it on first")
            if self.mode or self.cycle or self.steady:
                raise ValueError("care is off: send only enabled: false to turn it off")
            return self
        if self.mode is None:
            raise ValueError("mode is required when care is on: cycle, steady or days")
        if self.mode == "steady" and self.steady is None:
            raise ValueError("steady mode needs steady.weekdays")
        return self


class ConsentTerms(Answer):
    version: str
    purpose: str
    text: str


class CycleOut(Answer):
    period_starts: list[date]
    typical_length_days: int | None
    days_before: int
    days_after: int


class SteadyOut(Answer):
    weekdays: list[int]


class CareSettingsOut(Answer):
    enabled: bool
    mode: Mode | None
    share_with_partner: bool
    cycle: CycleOut | None
    steady: SteadyOut | None
    marked_days: list[date] = Field(description="Days marked by hand, today and later.")
    consented_at: UtcDateTime | None = Field(description="When care was turned on (the consent).")
    consent_version: str | None
    terms: ConsentTerms = Field(description="What turning care on agrees to.")


class CareDaysIn(StrictInput):
    openapi_examples: ClassVar[dict[str, BodyExample]] = {
        "one_day": {"summary": "One day", "value": {"date": "2026-12-03"}},
        "three_days": {
            "summary": "Three days in a row",
            "value": {"date": "2026-12-03", "until": "2026-12-05"},
        },
    }

    date: CalendarDate
    until: CalendarDate | None = Field(
        default=None, description="The last day; a range marks at most 14 days."
    )


class WindowOut(Answer):
    start: date
    end: date


class CareStatusOut(Answer):
    in_window: bool
    window: WindowOut | None = Field(description="The window running today, else the next one.")
    next_start: date | None = Field(description="When the next window after today starts.")


class PartnerCareOut(Answer):
    partner_in_care_window: bool
    until: date | None = Field(description="The last gentle day of the running window.")
