import uuid
from typing import ClassVar

from pydantic import Field

from app.accounts.models import User
from app.couples.models import MAX_HALF_LIFE_HOURS, MIN_HALF_LIFE_HOURS, Couple
from app.fields import Answer, BodyExample, PatchInput, StrictInput, Timezone, UtcDateTime


class InvitePublic(Answer):
    code: str = Field(description="8 characters of Crockford base32; give it to your partner.")
    expires_at: UtcDateTime


class JoinRequest(StrictInput):
    openapi_examples: ClassVar[dict[str, BodyExample]] = {
        "code": {
            "summary": "The code your partner's app shows",
            "description": "Case, spaces and dashes do not matter; O reads as 0, I and L as 1.",
            "value": {"code": "7QK4M2XD"},
        }
    }

    code: str = Field(min_length=1, max_length=32, examples=["7QK4M2XD"])


class PartnerPublic(Answer):
    id: uuid.UUID
    display_name: str


class CouplePublic(Answer):
    id: uuid.UUID
    partner: PartnerPublic
    created_at: UtcDateTime
    timezone: str
    day_start_hour: int = Field(description="Local hour at which the couple's day begins.")
    half_life_hours: int = Field(description="Hours for a deposit's warmth to fall by half.")

    @classmethod
    def of(cls, couple: Couple, partner: User) -> "CouplePublic":
        return cls(
            id=couple.id,
            partner=PartnerPublic(id=partner.id, display_name=partner.display_name),
            created_at=couple.created_at,
            timezone=couple.timezone,
            day_start_hour=couple.day_start_hour,
            half_life_hours=couple.half_life_hours,
        )


class CoupleUpdate(PatchInput):
    openapi_examples: ClassVar[dict[str, BodyExample]] = {
        "day_start_hour": {
            "summary": "Your day starts at 5 a.m.",
            "description": "A bid before 5 a.m. counts for the evening before.",
            "value": {"day_start_hour": 5},
        },
        "move": {
            "summary": "Moved together, and a slower fade",
            "value": {"timezone": "Europe/Lisbon", "half_life_hours": 96},
        },
    }

    timezone: Timezone | None = Field(default=None, examples=["Europe/Berlin"])
    day_start_hour: int | None = Field(default=None, ge=0, le=23, examples=[4])
    half_life_hours: int | None = Field(
        default=None, ge=MIN_HALF_LIFE_HOURS, le=MAX_HALF_LIFE_HOURS, examples=[72]
    )
