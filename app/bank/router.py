from datetime import date

from fastapi import APIRouter
from pydantic import Field

from app.bank import service
from app.couples.dependencies import HistoryCouple, LocalDays
from app.deps import ClockDep, SessionDep
from app.errors import problem_responses
from app.fields import Answer, UtcDateTime

router = APIRouter(prefix="/v1/couple", tags=["balance"])


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
    couple: HistoryCouple, session: SessionDep, clock: ClockDep, days: LocalDays = 30
) -> BalanceHistory:
    points = service.history(session, couple, days, clock.now())
    return BalanceHistory(points=[BalancePoint(date=d, balance=b) for d, b in points])
