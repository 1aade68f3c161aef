"""GET and POST /v1/sync: WatermelonDB's ``synchronize()`` pulls and pushes here."""

import json
from typing import Annotated, Any

from fastapi import APIRouter, Query

from app.accounts.dependencies import CurrentPartner
from app.deps import ClockDep, SessionDep, SettingsDep, writes_on_read
from app.errors import Invalid, problem_responses
from app.sync import service
from app.sync.schemas import (
    BidRaw,
    CoupleRaw,
    NotificationRaw,
    PullChanges,
    SyncPull,
    SyncPush,
    SyncPushed,
    TableChanges,
)

router = APIRouter(prefix="/v1/sync", tags=["sync"])

LastPulledAt = Annotated[
    str | None,
    Query(
        pattern=r"^(null|0|[1-9][0-9]{0,14})$",
        description="The timestamp of the last pull, in ms; absent or null on a first sync",
    ),
]


def _last_pulled_at(value: str | None) -> int | None:
    return None if value in (None, "null") else int(value)


@router.get(
    "",
    operation_id="pullChanges",
    summary="Every change since the last pull (WatermelonDB's pullChanges)",
    responses=problem_responses(401, 403, 422),
)
@writes_on_read  # a pull moves the couple's and the inbox's sync clocks
def pull(
    user: CurrentPartner,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
    last_pulled_at: LastPulledAt = None,
    schema_version: Annotated[int | None, Query(ge=1, le=1_000_000)] = None,
    migration: Annotated[
        str | None, Query(max_length=4096, description="WatermelonDB's migration, as JSON")
    ] = None,
) -> SyncPull:
    if migration is not None:
        try:
            json.loads(migration)
        except ValueError as exc:
            raise Invalid("migration must be JSON (or null).", field="migration") from exc
    pulled = service.pull(
        session, user, _last_pulled_at(last_pulled_at), now=clock.now(), settings=settings
    )

    def table(name: str) -> dict[str, Any]:
        changes = pulled.changes[name]
        return {"created": [], "updated": changes.updated, "deleted": changes.deleted}

    return SyncPull(
        changes=PullChanges(
            bids=TableChanges[BidRaw].model_validate(table("bids")),
            notifications=TableChanges[NotificationRaw].model_validate(table("notifications")),
            couples=TableChanges[CoupleRaw].model_validate(table("couples")),
        ),
        timestamp=pulled.timestamp,
        experimental_strategy="replacement" if pulled.replacement else None,
    )


@router.post(
    "",
    operation_id="pushChanges",
    summary="Apply the phone's changes in one transaction (WatermelonDB's pushChanges)",
    response_model_exclude_none=True,
    responses=problem_responses(401, 403, 409, 413, 422),
)
def push(
    body: SyncPush,
    user: CurrentPartner,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
    last_pulled_at: Annotated[
        int | None,
        Query(
            ge=0,
            le=999_999_999_999_999,
            description="The timestamp of the last pull; without one, a push can only create",
        ),
    ] = None,
) -> SyncPushed:
    rejected = service.push(
        session, user, last_pulled_at, body.all_changes(), now=clock.now(), settings=settings
    )
    return SyncPushed(experimental_rejected_ids=rejected or None)
