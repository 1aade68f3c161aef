import uuid

from pydantic import BaseModel, Field

from app.couples.models import MAX_HALF_LIFE_HOURS, MIN_HALF_LIFE_HOURS
from app.fields import PatchInput, StrictInput, Timezone, UtcDateTime


class InvitePublic(BaseModel):
    code: str = Field(description="8 characters of Crockford base32; give it to your partner.")
    expires_at: UtcDateTime


class JoinRequest(StrictInput):
    code: str = Field(min_length=1, max_length=32, examples=["7QK4M2XD"])


class PartnerPublic(BaseModel):
    id: uuid.UUID
    display_name: str


class CouplePublic(BaseModel):
    id: uuid.UUID
    partner: PartnerPublic
    created_at: UtcDateTime
    timezone: str
    day_start_hour: int = Field(description="Local hour at which the couple's day begins.")
    half_life_hours: int = Field(description="Hours for a deposit's warmth to fall by half.")


class CoupleUpdate(PatchInput):
    timezone: Timezone | None = Field(default=None, examples=["Europe/Berlin"])
    day_start_hour: int | None = Field(default=None, ge=0, le=23, examples=[4])
    half_life_hours: int | None = Field(
        default=None, ge=MIN_HALF_LIFE_HOURS, le=MAX_HALF_LIFE_HOURS, examples=[72]
    )
