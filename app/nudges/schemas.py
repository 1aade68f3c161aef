import re
import uuid
from datetime import time
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BeforeValidator, Field, PlainSerializer, model_validator

from app.fields import Answer, BodyExample, StrictInput, UtcDateTime

Provider = Literal["expo", "fcm", "webhook"]
Platform = Literal["ios", "android", "web", "server"]

_HHMM = re.compile(r"^([01][0-9]|2[0-3]):([0-5][0-9])$")


def _parse_hhmm(value: Any) -> Any:
    if isinstance(value, str):
        match = _HHMM.fullmatch(value)
        if not match:
            raise ValueError("must be a local time as HH:MM, 00:00 to 23:59")
        return time(int(match[1]), int(match[2]))
    if isinstance(value, time):
        return value
    raise ValueError("must be a local time as HH:MM, 00:00 to 23:59")


def _hhmm_schema(schema: dict[str, Any]) -> None:
    # HH:MM, not RFC 3339's "full-time" (which wants seconds and an offset).
    schema.pop("format", None)
    schema.update(type="string", pattern=_HHMM.pattern)


LocalTime = Annotated[
    time,
    BeforeValidator(_parse_hhmm),
    PlainSerializer(lambda t: t.strftime("%H:%M"), return_type=str),
    Field(json_schema_extra=_hhmm_schema, examples=["19:00"]),
]


class NudgeKinds(StrictInput):
    """Which kinds of nudge are on; every key is required, so none is switched silently."""

    daily_suggestion: bool
    partner_bid: bool
    reconnect: bool
    weekly_summary: bool


class NudgeSettingsPublic(Answer):
    enabled: bool
    discreet: bool = Field(description="Lock screens show no kind of bid and no words of yours")
    daily_time: LocalTime
    quiet_start: LocalTime
    quiet_end: LocalTime
    kinds: NudgeKinds
    next_daily_at: UtcDateTime | None = Field(description="When the next daily nudge is planned")


class NudgeSettingsUpdate(StrictInput):
    """The whole settings document (PUT): every field is required."""

    openapi_examples: ClassVar[dict[str, BodyExample]] = {
        "evenings": {
            "summary": "Every nudge, at 7 p.m., quiet at night",
            "value": {
                "enabled": True,
                "discreet": True,
                "daily_time": "19:00",
                "quiet_start": "22:00",
                "quiet_end": "07:00",
                "kinds": {
                    "daily_suggestion": True,
                    "partner_bid": True,
                    "reconnect": True,
                    "weekly_summary": True,
                },
            },
        },
        "partner_bids_only": {
            "summary": "Only your partner's bids and the weekly summary, not discreet",
            "description": "With discreet off, lock screens show the kind of bid.",
            "value": {
                "enabled": True,
                "discreet": False,
                "daily_time": "08:30",
                "quiet_start": "23:00",
                "quiet_end": "06:30",
                "kinds": {
                    "daily_suggestion": False,
                    "partner_bid": True,
                    "reconnect": False,
                    "weekly_summary": True,
                },
            },
        },
    }

    enabled: bool
    discreet: bool
    daily_time: LocalTime
    quiet_start: LocalTime
    quiet_end: LocalTime
    kinds: NudgeKinds


class DeviceCreate(StrictInput):
    openapi_examples: ClassVar[dict[str, BodyExample]] = {
        "expo": {
            "summary": "An iPhone, through Expo push",
            "value": {
                "provider": "expo",
                "token": "ExponentPushToken[9kQ2vXbT1mZrL8eWcN4hYp]",
                "platform": "ios",
            },
        },
        "webhook": {
            "summary": "A server of yours, through a webhook",
            "description": "The token is the http(s) URL that each push is POSTed to. It "
            "must reach a public address: loopback, private, link-local and reserved "
            "addresses (and names resolving to them) are refused with 422.",
            "value": {
                "provider": "webhook",
                "token": "https://hooks.example.com/tend/alex",
                "platform": "server",
            },
        },
    }

    provider: Provider
    token: str = Field(
        min_length=1, max_length=512, examples=["ExponentPushToken[xxxxxxxxxxxxxxxxxxxxxx]"]
    )
    platform: Platform

    @model_validator(mode="after")
    def _token_fits_provider(self) -> "DeviceCreate":
        if self.provider == "expo" and not re.fullmatch(
            r"Expo(nent)?PushToken\[[^\[\]\s]{1,200}\]", self.token
        ):
            raise ValueError("token: an Expo push token looks like ExponentPushToken[...]")
        if self.provider == "webhook" and not re.fullmatch(r"https?://[^\s]+", self.token):
            raise ValueError("token: a webhook token is the http(s) URL to POST to")
        return self


class DevicePublic(Answer):
    id: uuid.UUID
    provider: Provider
    platform: Platform
    created_at: UtcDateTime
    last_seen_at: UtcDateTime
    enabled: bool
    disabled_reason: str | None


class NotificationPublic(Answer):
    id: uuid.UUID
    kind: str
    title: str
    body: str
    data: dict[str, Any]
    created_at: UtcDateTime
    due_at: UtcDateTime
    read_at: UtcDateTime | None
