from pydantic import Field

from app.bids.schemas import InitiatorCounts
from app.fields import Answer


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
