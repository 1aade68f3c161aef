import uuid
from typing import Annotated, ClassVar, Literal

from pydantic import AfterValidator, Field

from app.bank.math import Response
from app.bids.kinds import BY_KIND, KIND_NAMES, Channel
from app.bids.models import MAX_DURATION_SECONDS, NOTE_MAX_LENGTH
from app.fields import Answer, BodyExample, Instant, PatchInput, StrictInput, UtcDateTime

Initiator = Literal["me", "partner"]


class InitiatorCounts(Answer):
    """Bids counted by who made them, seen from the caller; both keys are always there."""

    me: int
    partner: int


def _known_kind(value: str) -> str:
    if value not in BY_KIND:
        raise ValueError(f"must be one of: {', '.join(KIND_NAMES)}")
    return value


KindName = Annotated[
    str, AfterValidator(_known_kind), Field(json_schema_extra={"enum": list(KIND_NAMES)})
]
Duration = Annotated[
    int, Field(ge=0, le=MAX_DURATION_SECONDS, description="Seconds the gesture lasted")
]


def _blank_is_none(value: str | None) -> str | None:
    return value if value is None or value.strip() else None


Note = Annotated[
    str | None,
    Field(max_length=NOTE_MAX_LENGTH, description="Private to the couple"),
    AfterValidator(_blank_is_none),
]


class BidKindPublic(Answer):
    kind: KindName
    label: str
    channel: Channel
    weight: float = Field(description="Deposit when turned toward")
    linger_seconds: int | None = Field(description="Held this long, it deposits ×1.5")
    description: str


class BidCreate(StrictInput):
    openapi_examples: ClassVar[dict[str, BodyExample]] = {
        "hug": {
            "summary": "A long hug, turned toward, logged as it happened",
            "description": "Held past the kind's lingering threshold (20 s), it deposits ×1.5.",
            "value": {
                "id": "5f0c8a52-3d6e-4b7a-9c1f-2e8d4a6b0c13",
                "kind": "hug",
                "initiator": "me",
                "duration_seconds": 25,
                "response": "toward",
            },
        },
        "synced_later": {
            "summary": "Logged offline, synced later",
            "description": (
                "occurred_at may be up to 7 days in the past. Sending the same id again is "
                "harmless: it answers 200 with the stored bid."
            ),
            "value": {
                "id": "a3e1b6d4-7c2f-4e89-b5a0-9d8c7f6e5b42",
                "kind": "question",
                "initiator": "partner",
                "occurred_at": "2026-03-09T20:15:00+01:00",
                "note": "Asked how my day went",
            },
        },
        "minimal": {
            "summary": "Only what is required",
            "description": "It happened now, and nobody has answered it yet.",
            "value": {"kind": "phone_down", "initiator": "me"},
        },
    }

    id: uuid.UUID | None = Field(
        default=None, description="Made by the phone, so that an offline sync can be replayed"
    )
    kind: KindName = Field(examples=["hug"])
    initiator: Initiator = Field(examples=["me"])
    occurred_at: Instant | None = Field(
        default=None, description="Defaults to now; up to 7 days back, 5 minutes ahead"
    )
    duration_seconds: Duration | None = None
    note: Note = None
    response: Response = Response.pending


class BidUpdate(PatchInput):
    openapi_examples: ClassVar[dict[str, BodyExample]] = {
        "note": {
            "summary": "Add a note",
            "value": {"note": "After a long day at work"},
        },
        "kind": {
            "summary": "Correct the kind and how long it lasted",
            "value": {"kind": "long_kiss", "duration_seconds": 30},
        },
        "clear": {
            "summary": "Clear the note and the duration",
            "description": "Only note and duration_seconds may be set to null.",
            "value": {"note": None, "duration_seconds": None},
        },
    }

    clearable: ClassVar[frozenset[str]] = frozenset({"note", "duration_seconds"})

    kind: KindName | None = None
    initiator: Initiator | None = None
    occurred_at: Instant | None = None
    duration_seconds: Duration | None = None
    note: Note = None


class ResponseUpdate(StrictInput):
    openapi_examples: ClassVar[dict[str, BodyExample]] = {
        "toward": {"summary": "Turned toward: a deposit", "value": {"response": "toward"}},
        "away": {"summary": "Missed or ignored: a small withdrawal", "value": {"response": "away"}},
    }

    response: Response


class BidPublic(Answer):
    id: uuid.UUID
    couple_id: uuid.UUID
    kind: KindName
    initiator: Initiator = Field(description="Who made the bid, seen from the caller")
    logged_by: Initiator = Field(description="Who logged it, seen from the caller")
    occurred_at: UtcDateTime
    duration_seconds: int | None
    note: str | None
    response: Response
    responded_by: Initiator | None
    responded_at: UtcDateTime | None
    deposit: float
    created_at: UtcDateTime
    updated_at: UtcDateTime
