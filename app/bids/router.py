import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Response, status

from app.accounts.dependencies import CurrentPartner, CurrentUser
from app.bids import service
from app.bids.kinds import CATALOGUE
from app.bids.models import Bid
from app.bids.schemas import (
    BidCreate,
    BidKindPublic,
    BidPublic,
    BidUpdate,
    KindName,
    ResponseUpdate,
)
from app.deps import ClockDep, SessionDep
from app.errors import problem_responses
from app.fields import Instant
from app.i18n import negotiate, words
from app.pagination import Page, PageParamsDep

router = APIRouter(tags=["bids"])


def valid_bid(bid_id: uuid.UUID, user: CurrentUser, session: SessionDep) -> Bid:
    """The bid, if the caller may see it; 404 otherwise (as if it did not exist)."""
    return service.get_readable(session, user, bid_id)


ReadableBid = Annotated[Bid, Depends(valid_bid)]


@router.get(
    "/v1/bid-kinds",
    operation_id="listBidKinds",
    summary="The catalogue of kinds of bid, with channels, weights and lingering thresholds",
    description="Labels and descriptions come in the best match of `Accept-Language` that "
    "Tend speaks (English when none is); `Content-Language` says which.",
    responses=problem_responses(),
)
def list_bid_kinds(
    response: Response,
    accept_language: Annotated[str | None, Header(examples=["fr-CA,fr;q=0.9,en;q=0.5"])] = None,
) -> list[BidKindPublic]:
    t = words(negotiate(accept_language))
    response.headers["Content-Language"] = t.locale
    response.headers["Vary"] = "Accept-Language"
    return [
        BidKindPublic(
            kind=k.kind,
            label=t.gettext(k.label),
            channel=k.channel,
            weight=k.weight,
            linger_seconds=k.linger_seconds,
            description=t.gettext(k.description),
        )
        for k in CATALOGUE
    ]


@router.post(
    "/v1/bids",
    status_code=status.HTTP_201_CREATED,
    operation_id="createBid",
    summary="Log a bid (idempotent by client id: a replay answers 200 with the stored bid)",
    responses={
        200: {"model": BidPublic, "description": "A replay of a bid already stored"},
        **problem_responses(401, 403, 409, 410),
    },
)
def create_bid(
    body: BidCreate, user: CurrentPartner, session: SessionDep, clock: ClockDep, response: Response
) -> BidPublic:
    bid, created = service.create(session, user, body, now=clock.now())
    if not created:
        response.status_code = status.HTTP_200_OK
    return service.to_public(bid, user.id)


@router.get(
    "/v1/bids",
    operation_id="listBids",
    summary="Bids of your couple, newest first (of your latest couple if it has ended)",
    responses=problem_responses(401, 403, 404),
)
def list_bids(
    user: CurrentPartner,
    session: SessionDep,
    page: PageParamsDep,
    since: Annotated[Instant | None, Query(description="occurred_at at or after")] = None,
    until: Annotated[Instant | None, Query(description="occurred_at before")] = None,
    kind: Annotated[KindName | None, Query()] = None,
    couple_id: Annotated[uuid.UUID | None, Query(description="A former couple's history")] = None,
) -> Page[BidPublic]:
    bids, next_cursor = service.list_bids(
        session,
        user,
        couple_id=couple_id,
        since=since,
        until=until,
        kind=kind,
        limit=page.limit,
        cursor=page.cursor,
    )
    return Page[BidPublic](
        items=[service.to_public(b, user.id) for b in bids], next_cursor=next_cursor
    )


@router.get(
    "/v1/bids/{bid_id}",
    operation_id="getBid",
    summary="One bid",
    responses=problem_responses(401, 404),
)
def get_bid(bid: ReadableBid, user: CurrentUser) -> BidPublic:
    return service.to_public(bid, user.id)


@router.patch(
    "/v1/bids/{bid_id}",
    operation_id="updateBid",
    summary="Change a bid you logged",
    responses=problem_responses(401, 403, 404, 409),
)
def update_bid(
    body: BidUpdate, bid: ReadableBid, user: CurrentUser, session: SessionDep, clock: ClockDep
) -> BidPublic:
    return service.to_public(service.update(session, user, bid, body, now=clock.now()), user.id)


@router.delete(
    "/v1/bids/{bid_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    operation_id="deleteBid",
    summary="Delete a bid you logged",
    responses=problem_responses(401, 403, 404),
)
def delete_bid(bid: ReadableBid, user: CurrentUser, session: SessionDep, clock: ClockDep) -> None:
    service.delete(session, user, bid, now=clock.now())


@router.put(
    "/v1/bids/{bid_id}/response",
    operation_id="respondToBid",
    summary="Record whether the bid was turned toward, away or against (either partner)",
    responses=problem_responses(401, 404, 409),
)
def respond_to_bid(
    body: ResponseUpdate, bid: ReadableBid, user: CurrentUser, session: SessionDep, clock: ClockDep
) -> BidPublic:
    updated = service.respond(session, user, bid, body.response, now=clock.now())
    return service.to_public(updated, user.id)
