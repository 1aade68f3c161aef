import uuid
from typing import Annotated, ClassVar, Literal

from pydantic import AfterValidator, BaseModel, Field

from app.bank.math import Response
from app.bids.kinds import BY_KIND, KIND_NAMES, Channel
from app.bids.models import MAX_DURATION_SECONDS, NOTE_MAX_LENGTH
from app.fields import Instant, PatchInput, StrictInput, UtcDateTime

Initiator = Literal["me", "partner"]


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


class BidKindPublic(BaseModel):
    kind: str
    label: str
    channel: Channel
    weight: float = Field(description="Deposit when turned toward")
    linger_seconds: int | None = Field(description="Held this long, it deposits ×1.5")
    description: str


class BidCreate(StrictInput):
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
    clearable: ClassVar[frozenset[str]] = frozenset({"note", "duration_seconds"})

    kind: KindName | None = None
    initiator: Initiator | None = None
    occurred_at: Instant | None = None
    duration_seconds: Duration | None = None
    note: Note = None


class ResponseUpdate(StrictInput):
    response: Response


class BidPublic(BaseModel):
    id: uuid.UUID
    couple_id: uuid.UUID
    kind: str
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
