from fastapi import APIRouter

from app.accounts.dependencies import CurrentPartner
from app.couples.dependencies import HistoryCouple, LocalDays
from app.deps import ClockDep, SessionDep
from app.errors import problem_responses
from app.stats.schemas import StatsPublic
from app.stats.service import couple_stats

router = APIRouter(prefix="/v1/couple", tags=["balance"])


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
    days: LocalDays = 30,
) -> StatsPublic:
    stats = couple_stats(session, couple, user.id, days, clock.now())
    return StatsPublic(**vars(stats))
