import uuid
from typing import Annotated, Any, ClassVar, Literal

from pydantic import ConfigDict, EmailStr, Field, field_validator

from app.accounts.models import Role
from app.fields import (
    PASSWORD_MAX_LENGTH,
    Answer,
    BodyExample,
    DateTimeText,
    DisplayName,
    LocaleTag,
    NewPassword,
    PatchInput,
    StrictInput,
    Timezone,
    UtcDateTime,
)


class RegisterRequest(StrictInput):
    openapi_examples: ClassVar[dict[str, BodyExample]] = {
        "partner": {
            "summary": "A partner",
            "description": "The role defaults to partner and the time zone to UTC.",
            "value": {
                "email": "alex@example.com",
                "password": "blue kettle at dawn",
                "display_name": "Alex",
                "timezone": "Europe/Berlin",
            },
        },
        "coach": {
            "summary": "A coach",
            "value": {
                "email": "jamie.rivera@example.com",
                "password": "steady hands, open heart",
                "display_name": "Jamie Rivera",
                "timezone": "America/New_York",
                "role": "coach",
            },
        },
    }

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
    openapi_examples: ClassVar[dict[str, BodyExample]] = {
        "login": {
            "summary": "Email and password",
            "value": {"email": "alex@example.com", "password": "blue kettle at dawn"},
        }
    }

    email: EmailStr = Field(examples=["alex@example.com"])
    # No strength rule here: a login only checks what was set.
    password: str = Field(min_length=1, max_length=PASSWORD_MAX_LENGTH)

    @field_validator("email")
    @classmethod
    def _lower(cls, value: str) -> str:
        return value.lower()


class RefreshRequest(StrictInput):
    openapi_examples: ClassVar[dict[str, BodyExample]] = {
        "refresh_token": {
            "summary": "The refresh token of the latest token pair",
            "value": {"refresh_token": "q3Vt0m8sJx2yHkLwR9eN4aZpB7cUfD1gT6iYoM5nQ0E"},
        }
    }

    # Generous: anything that is not a refresh token is answered 401, not 422.
    refresh_token: str = Field(min_length=1, max_length=4096)


class EraseRequest(StrictInput):
    openapi_examples: ClassVar[dict[str, BodyExample]] = {
        "password": {
            "summary": "Your password, to confirm",
            "value": {"password": "blue kettle at dawn"},
        }
    }

    password: str = Field(min_length=1, max_length=PASSWORD_MAX_LENGTH)


class PasswordChange(StrictInput):
    openapi_examples: ClassVar[dict[str, BodyExample]] = {
        "change": {
            "summary": "The current password and a new one",
            "value": {
                "current_password": "blue kettle at dawn",
                "new_password": "green teapot at dusk",
            },
        }
    }

    current_password: str = Field(min_length=1, max_length=PASSWORD_MAX_LENGTH)
    new_password: NewPassword = Field(examples=["another long passphrase"])


Token = Annotated[
    str,
    Field(
        min_length=1,
        max_length=200,
        description="The token from the link's `token` query parameter, as it is.",
        examples=["q3Vt0m8sJx2yHkLwR9eN4aZpB7cUfD1gT6iYoM5nQ0E"],
    ),
]


class EmailVerification(StrictInput):
    openapi_examples: ClassVar[dict[str, BodyExample]] = {
        "token": {
            "summary": "The token of a verification link",
            "description": "From `{TEND_APP_URL}/verify-email?token=…`, opened by the app.",
            "value": {"token": "q3Vt0m8sJx2yHkLwR9eN4aZpB7cUfD1gT6iYoM5nQ0E"},
        }
    }

    token: Token


class PasswordResetRequest(StrictInput):
    openapi_examples: ClassVar[dict[str, BodyExample]] = {
        "email": {
            "summary": "The address of the account",
            "description": "Answered 202 whether or not an account has it.",
            "value": {"email": "alex@example.com"},
        }
    }

    email: EmailStr = Field(examples=["alex@example.com"])

    @field_validator("email")
    @classmethod
    def _lower(cls, value: str) -> str:
        return value.lower()


class PasswordResetConfirm(StrictInput):
    openapi_examples: ClassVar[dict[str, BodyExample]] = {
        "reset": {
            "summary": "The token of a reset link and a new password",
            "description": "From `{TEND_APP_URL}/reset-password?token=…`, opened by the app.",
            "value": {
                "token": "q3Vt0m8sJx2yHkLwR9eN4aZpB7cUfD1gT6iYoM5nQ0E",
                "password": "green teapot at dusk",
            },
        }
    }

    token: Token
    password: NewPassword = Field(examples=["another long passphrase"])


class EmailChange(StrictInput):
    openapi_examples: ClassVar[dict[str, BodyExample]] = {
        "change": {
            "summary": "A new address, with your password",
            "value": {"email": "alex.new@example.com", "password": "blue kettle at dawn"},
        }
    }

    email: EmailStr = Field(examples=["alex.new@example.com"])
    password: str = Field(min_length=1, max_length=PASSWORD_MAX_LENGTH)

    @field_validator("email")
    @classmethod
    def _lower(cls, value: str) -> str:
        return value.lower()


class Accepted(Answer):
    """A mail is on its way (or, for an unknown address, nothing is: the answer is the same)."""

    message: str


class MeUpdate(PatchInput):
    openapi_examples: ClassVar[dict[str, BodyExample]] = {
        "display_name": {
            "summary": "A new display name",
            "value": {"display_name": "Alexandra"},
        },
        "timezone": {
            "summary": "Moved to another time zone",
            "description": "Nudge times follow: they are local times in this zone.",
            "value": {"timezone": "America/Toronto"},
        },
        "locale": {
            "summary": "Another language",
            "description": "Nudges and mails come in this language from now on.",
            "value": {"locale": "de"},
        },
    }

    display_name: DisplayName | None = None
    timezone: Timezone | None = None
    locale: LocaleTag | None = None


class UserPublic(Answer):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    email: str
    email_verified: bool = Field(
        description="Whether a link mailed to `email` came back (verification or reset)."
    )
    display_name: str
    timezone: str
    locale: str = Field(
        description="The language Tend writes to this person in: nudges, mails, problems."
    )
    role: Role
    created_at: UtcDateTime


class TokenPair(Answer):
    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - a scheme name
    expires_in: int = Field(description="Seconds until the access token expires.")


class RegisterResponse(TokenPair):
    user: UserPublic


Record = dict[str, Any]


class CoupleExport(Answer):
    id: uuid.UUID
    created_at: DateTimeText
    ended_at: DateTimeText | None
    timezone: str
    day_start_hour: int
    half_life_hours: int
    members: list[Record]
    partners: list[Record]
    bids: list[Record]
    days: list[Record]
    coach_consents: list[Record]
    practices: list[Record]
    coach_access_log: list[Record]


class CoachingExport(Answer):
    consents_received: list[Record]
    practices_proposed: list[Record]
    reads: list[Record]


class ExportDocument(Answer):
    """Every stored row about the account, column by column (secrets left out)."""

    format: Literal["tend-export/1"]
    exported_at: DateTimeText
    account: Record
    sign_ins: list[Record]
    email_links: list[Record]
    mails: list[Record]
    nudge_settings: Record | None
    care: Record | None = Field(
        description="Your care settings, opened (never in your partner's export); null if off."
    )
    devices: list[Record]
    notifications: list[Record]
    push_tickets: list[Record]
    invites: list[Record]
    couples: list[CoupleExport]
    coach_profile: Record | None
    coaching: CoachingExport
