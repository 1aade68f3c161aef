import uuid
from datetime import date
from typing import ClassVar, Literal

from pydantic import Field

from app.fields import Answer, BodyExample, StrictInput, UtcDateTime


class CoachProfilePublic(Answer):
    code: str = Field(description="Give it to the couples you coach; each partner enters it")
    code_rotated_at: UtcDateTime
    consent_text_version: str


class ConsentRequest(StrictInput):
    openapi_examples: ClassVar[dict[str, BodyExample]] = {
        "coach_code": {
            "summary": "The code your coach gave you",
            "description": "Each partner sends it; the coach sees the couple once both have.",
            "value": {"coach_code": "7QK4M2XD9P"},
        }
    }

    coach_code: str = Field(min_length=1, max_length=32, examples=["7QK4M2XD9P"])


class ConsentEvent(Answer):
    partner: Literal["me", "partner"] | None = Field(description="Null once that account is erased")
    granted_at: UtcDateTime
    revoked_at: UtcDateTime | None
    revoke_reason: str | None = Field(description="revoked, couple_ended or account_deleted")
    scope: str
    consent_version: str


class CoachPublic(Answer):
    id: uuid.UUID
    display_name: str


class CoachConsentState(Answer):
    coach: CoachPublic
    state: Literal["active", "waiting_for_partner", "waiting_for_you", "revoked"]
    active_since: UtcDateTime | None = Field(description="When both partners had consented")
    history: list[ConsentEvent]


class AccessLogEntry(Answer):
    id: uuid.UUID
    coach: CoachPublic | None
    view: str = Field(description="couples (the list) or progress (the weekly view)")
    at: UtcDateTime


class CoachedCouple(Answer):
    couple_id: uuid.UUID
    first_names: list[str]
    since: date = Field(
        description="The couple's local day on which both partners had consented (a day, "
        "never finer: coach views say nothing finer than a day)"
    )
    last_active_day: date | None
    balance: float
    toward_rate_30d: float | None


class PartnerShare(Answer):
    first_name: str
    share: float = Field(description="Share of the week's bids this partner initiated, 0 to 1")


class WeekProgress(Answer):
    week_start: date = Field(description="Monday of the couple's local week")
    bids: int
    toward_rate: float | None
    positive_negative_ratio: float | None
    end_balance: float = Field(description="At the week's end; for this week, as of now")
    active_days: int
    initiative: list[PartnerShare]


class CoupleProgress(Answer):
    couple_id: uuid.UUID
    first_names: list[str]
    weeks: list[WeekProgress]
