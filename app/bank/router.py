from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import Field

from app.bank import service
from app.bids.schemas import InitiatorCounts
from app.deps import ClockDep, CurrentPartner, HistoryCouple, SessionDep
from app.errors import problem_responses
from app.fields import Answer, UtcDateTime
from app.stats.service import couple_stats

router = APIRouter(prefix="/v1/couple", tags=["balance"])

Days = Annotated[int, Query(ge=1, le=365, description="Local days, today included")]


class BalancePublic(Answer):
    balance: float
    as_of: UtcDateTime
    half_life_hours: int
    change_7d: float = Field(description="Balance now minus at the end of the day 7 days ago")
    deposits_7d: float = Field(description="Sum of positive deposits over the last 7 days")
    withdrawals_7d: float = Field(description="Sum of withdrawals over the last 7 days, positive")


class BalancePoint(Answer):
    date: date
    balance: float


class BalanceHistory(Answer):
    points: list[BalancePoint]


class StatsPublic(Answer):
    bids_total: int
    by_kind: dict[str, int]
    by_initiator: InitiatorCounts
    toward_rate: float | None = Field(description="toward / answered; null with none answered")
    positive_negative_ratio: float | None = Field(
        description="toward / (away + against); null with no negatives"
    )
    unanswered: int
    streak_days: int
    longest_streak_days: int


@router.get(
    "/balance",
    operation_id="getBalance",
    summary="The relational bank account's balance now, and the last 7 days",
    responses=problem_responses(401, 403, 404),
)
def get_balance(couple: HistoryCouple, session: SessionDep, clock: ClockDep) -> BalancePublic:
    summary = service.summary(session, couple, clock.now())
    return BalancePublic(**vars(summary))


@router.get(
    "/balance/history",
    operation_id="getBalanceHistory",
    summary="The balance at the end of each local day (today: as of now)",
    responses=problem_responses(401, 403, 404),
)
def get_balance_history(
    couple: HistoryCouple, session: SessionDep, clock: ClockDep, days: Days = 30
) -> BalanceHistory:
    points = service.history(session, couple, days, clock.now())
    return BalanceHistory(points=[BalancePoint(date=d, balance=b) for d, b in points])


@router.get(
    "/stats",
    operation_id="getCoupleStats",
    summary="Rates, ratios and streaks over the last N local days",
    responses=problem_responses(401, 403, 404),
)
def get_stats(
    couple: HistoryCouple,
    user: CurrentPartner,
    session: SessionDep,
    clock: ClockDep,
    days: Days = 30,
) -> StatsPublic:
    stats = couple_stats(session, couple, user.id, days, clock.now())
    return StatsPublic(**vars(stats))
