import uuid
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field, field_validator

from app.accounts.models import Role
from app.fields import (
    PASSWORD_MAX_LENGTH,
    DisplayName,
    NewPassword,
    PatchInput,
    StrictInput,
    Timezone,
    UtcDateTime,
)


class RegisterRequest(StrictInput):
    email: EmailStr = Field(examples=["alex@example.com"])
    password: NewPassword = Field(examples=["a long passphrase"])
    display_name: DisplayName = Field(examples=["Alex"])
    timezone: Timezone = Field(default="UTC", examples=["Europe/Berlin"])
    role: Role = Role.partner

    @field_validator("email")
    @classmethod
    def _lower(cls, value: str) -> str:
        return value.lower()


class LoginRequest(StrictInput):
    email: EmailStr = Field(examples=["alex@example.com"])
    # No strength rule here: a login only checks what was set.
    password: str = Field(min_length=1, max_length=PASSWORD_MAX_LENGTH)

    @field_validator("email")
    @classmethod
    def _lower(cls, value: str) -> str:
        return value.lower()


class RefreshRequest(StrictInput):
    # Generous: anything that is not a refresh token is answered 401, not 422.
    refresh_token: str = Field(min_length=1, max_length=4096)


class EraseRequest(StrictInput):
    password: str = Field(min_length=1, max_length=PASSWORD_MAX_LENGTH)


class PasswordChange(StrictInput):
    current_password: str = Field(min_length=1, max_length=PASSWORD_MAX_LENGTH)
    new_password: NewPassword = Field(examples=["another long passphrase"])


class MeUpdate(PatchInput):
    display_name: DisplayName | None = None
    timezone: Timezone | None = None


class UserPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    email: str
    display_name: str
    timezone: str
    role: Role
    created_at: UtcDateTime


class TokenPair(BaseModel):
    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - a scheme name
    expires_in: int = Field(description="Seconds until the access token expires.")


class RegisterResponse(TokenPair):
    user: UserPublic


Record = dict[str, Any]


class CoupleExport(BaseModel):
    id: uuid.UUID
    created_at: str
    ended_at: str | None
    timezone: str
    day_start_hour: int
    half_life_hours: int
    members: list[Record]
    partners: list[Record]
    bids: list[Record]
    deleted_bids: list[Record]
    days: list[Record]
    coach_consents: list[Record]
    coach_access_log: list[Record]


class CoachingExport(BaseModel):
    consents_received: list[Record]
    reads: list[Record]


class ExportDocument(BaseModel):
    """Every stored row about the account, column by column (secrets left out)."""

    format: Literal["tend-export/1"]
    exported_at: str
    account: Record
    sign_ins: list[Record]
    nudge_settings: Record | None
    devices: list[Record]
    notifications: list[Record]
    push_tickets: list[Record]
    invites: list[Record]
    couples: list[CoupleExport]
    coach_profile: Record | None
    coaching: CoachingExport
