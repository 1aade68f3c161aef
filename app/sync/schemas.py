"""WatermelonDB's sync protocol: raw records as a phone stores them, and the two bodies.

Raw records use the REST objects' column names; instants are integer milliseconds since
the epoch, and ids are the REST ids (UUIDs). A pushed record also carries WatermelonDB's
own ``_status`` and ``_changed``, and every column of the phone's schema, including those
the server computes (``deposit``, ``logged_by``, ...), which a push ignores.
"""

import uuid
from typing import Annotated, Any, ClassVar, Generic, Literal, TypeVar

from pydantic import (
    ConfigDict,
    Field,
    StrictInt,
    model_validator,
)

from app.bank.math import Response
from app.bids.schemas import Duration, Initiator, KindName, Note
from app.fields import Answer, BodyExample, StrictInput

# Milliseconds since the epoch: a JSON integer, never a string or a float.
EpochMs = Annotated[StrictInt, Field(ge=0, le=253402300799999, description="ms since epoch")]
Record = TypeVar("Record")


class TableChanges(Answer, Generic[Record]):
    created: list[Record] = Field(description="Always empty: live records come as updated")
    updated: list[Record]
    deleted: list[uuid.UUID]

    @classmethod
    def model_parametrized_name(cls, params: tuple[Any, ...]) -> str:
        """``BidChanges`` for ``TableChanges[BidRaw]``: its name in the OpenAPI document."""
        (record,) = params
        return f"{record.__name__.removesuffix('Raw')}Changes"


class BidRaw(Answer):
    id: uuid.UUID
    couple_id: uuid.UUID
    kind: str
    initiator: Initiator = Field(description="Who made the bid, seen from the reader")
    logged_by: Initiator
    occurred_at: int
    duration_seconds: int | None
    note: str | None
    response: Response
    responded_by: Initiator | None
    responded_at: int | None
    deposit: float
    created_at: int
    updated_at: int


class NotificationRaw(Answer):
    id: uuid.UUID
    kind: str
    title: str
    body: str
    data: str = Field(description="The REST object's data, as a JSON text")
    created_at: int
    due_at: int
    read_at: int | None


class CoupleRaw(Answer):
    id: uuid.UUID
    partner_id: uuid.UUID | None = Field(description="Null once the partner erased the account")
    partner_name: str | None
    created_at: int
    ended_at: int | None
    timezone: str
    day_start_hour: int
    half_life_hours: int


class PullChanges(Answer):
    bids: TableChanges[BidRaw]
    notifications: TableChanges[NotificationRaw]
    couples: TableChanges[CoupleRaw]


class SyncPull(Answer):
    """A pull's answer; ``experimentalStrategy`` is sent only with the full set."""

    changes: PullChanges
    timestamp: int = Field(description="Send it back as last_pulled_at next time")
    experimental_strategy: Literal["replacement"] | None = Field(
        default=None,
        alias="experimentalStrategy",
        exclude_if=lambda strategy: strategy is None,  # sent only when it says something
        description="The full set: the phone drops synced records it does not contain",
    )

    model_config = ConfigDict(
        populate_by_name=True, json_schema_serialization_defaults_required=False
    )


# --- push -------------------------------------------------------------------------------


class _Pushed(StrictInput):
    """WatermelonDB's bookkeeping, sent with every pushed record and otherwise ignored.
    (StrictInput: unknown columns are refused, and true is no number.)"""

    watermelon_status: str | None = Field(default=None, alias="_status", max_length=16)
    watermelon_changed: str | None = Field(default=None, alias="_changed", max_length=1000)


class PushedBid(_Pushed):
    id: uuid.UUID
    kind: KindName
    initiator: Initiator
    occurred_at: EpochMs
    duration_seconds: Duration | None = None
    note: Note = None
    response: Response = Response.pending
    # Computed by the server: accepted as the phone has them, never applied.
    couple_id: str | None = Field(default=None, max_length=64)
    logged_by: Initiator | None = None
    responded_by: Initiator | None = None
    responded_at: EpochMs | None = None
    deposit: float | None = None
    created_at: EpochMs | None = None
    updated_at: EpochMs | None = None


class PushedNotification(_Pushed):
    id: uuid.UUID
    read_at: EpochMs | None = None
    # The server's text: ignored on push.
    kind: str | None = Field(default=None, max_length=32)
    title: str | None = Field(default=None, max_length=200)
    body: str | None = Field(default=None, max_length=10_000)
    data: str | None = Field(default=None, max_length=10_000)
    created_at: EpochMs | None = None
    due_at: EpochMs | None = None


class PushedCouple(_Pushed):
    """Couples are read-only: a pushed change to one is rejected by id."""

    id: uuid.UUID
    partner_id: uuid.UUID | None = None
    partner_name: str | None = Field(default=None, max_length=200)
    created_at: EpochMs | None = None
    ended_at: EpochMs | None = None
    timezone: str | None = Field(default=None, max_length=64)
    day_start_hour: int | None = None
    half_life_hours: int | None = None


Pushed = TypeVar("Pushed", bound=_Pushed)


class PushedTable(StrictInput, Generic[Pushed]):
    created: list[Pushed] = []
    updated: list[Pushed] = []
    deleted: list[uuid.UUID] = []

    def count(self) -> int:
        return len(self.created) + len(self.updated) + len(self.deleted)

    @classmethod
    def model_parametrized_name(cls, params: tuple[Any, ...]) -> str:
        """``PushedBids`` for ``PushedTable[PushedBid]``: its name in the OpenAPI document."""
        (record,) = params
        return f"{record.__name__}s"


class PushChanges(StrictInput):
    bids: PushedTable[PushedBid] = PushedTable[PushedBid]()
    notifications: PushedTable[PushedNotification] = PushedTable[PushedNotification]()
    couples: PushedTable[PushedCouple] = PushedTable[PushedCouple]()

    def count(self) -> int:
        return self.bids.count() + self.notifications.count() + self.couples.count()


class SyncPush(StrictInput):
    """``{changes}``, or the tables themselves at the top (WatermelonDB's own example sends
    the changes bare); not both."""

    openapi_examples: ClassVar[dict[str, BodyExample]] = {
        "offline_bid": {
            "summary": "A bid logged offline, and a nudge read",
            "description": "Records as WatermelonDB pushes them, with _status and _changed.",
            "value": {
                "changes": {
                    "bids": {
                        "created": [
                            {
                                "id": "0b7e9a52-3d6e-4b7a-9c1f-2e8d4a6b0c13",
                                "kind": "hug",
                                "initiator": "me",
                                "occurred_at": 1773140400000,
                                "duration_seconds": 25,
                                "note": None,
                                "response": "toward",
                                "_status": "created",
                                "_changed": "",
                            }
                        ],
                        "updated": [],
                        "deleted": [],
                    },
                    "notifications": {"created": [], "updated": [], "deleted": []},
                }
            },
        },
        "deleted": {
            "summary": "A bid deleted on the phone",
            "description": "Deleting a bid the server never had (or deleted already) is ignored.",
            "value": {
                "changes": {
                    "bids": {
                        "created": [],
                        "updated": [],
                        "deleted": ["9c4d2e61-8a3b-4f70-b5d2-1e6f7a8b9c0d"],
                    }
                }
            },
        },
    }

    changes: PushChanges | None = None
    bids: PushedTable[PushedBid] | None = None
    notifications: PushedTable[PushedNotification] | None = None
    couples: PushedTable[PushedCouple] | None = None

    @model_validator(mode="after")
    def _one_form(self) -> "SyncPush":
        bare = [self.bids, self.notifications, self.couples]
        if self.changes is not None and any(table is not None for table in bare):
            raise ValueError("send {changes} or the tables bare, not both")
        return self

    def all_changes(self) -> PushChanges:
        if self.changes is not None:
            return self.changes
        return PushChanges(
            bids=self.bids or PushedTable[PushedBid](),
            notifications=self.notifications or PushedTable[PushedNotification](),
            couples=self.couples or PushedTable[PushedCouple](),
        )


class SyncPushed(Answer):
    """``{}``, or the ids not applied (``experimentalRejectedIds``, sent only then)."""

    experimental_rejected_ids: dict[str, list[uuid.UUID]] | None = Field(
        default=None,
        alias="experimentalRejectedIds",
        description="Records not applied, by table: the user may not make these changes",
        exclude_if=lambda rejected: rejected is None,
    )

    model_config = ConfigDict(
        populate_by_name=True, json_schema_serialization_defaults_required=False
    )
