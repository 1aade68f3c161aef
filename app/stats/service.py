"""A couple's figures over a window of their days: rates, ratios, streaks."""

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.bank.math import Response
from app.bank.models import CoupleDay
from app.bids.models import Bid
from app.couples.models import Couple
from app.stats.days import day_start, local_day, streaks

# How far back a current streak is followed, whatever the window.
STREAK_HORIZON_DAYS = 400


@dataclass(frozen=True)
class Stats:
    bids_total: int
    by_kind: dict[str, int]
    by_initiator: dict[str, int]
    toward_rate: float | None
    positive_negative_ratio: float | None
    unanswered: int
    streak_days: int
    longest_streak_days: int


def couple_stats(
    session: Session, couple: Couple, viewer_id: uuid.UUID, days: int, now: datetime
) -> Stats:
    today = local_day(now, couple.timezone, couple.day_start_hour)
    first = today - timedelta(days=days - 1)
    since = day_start(first, couple.timezone, couple.day_start_hour)
    counts = session.execute(
        select(Bid.kind, Bid.initiator_id, Bid.response, func.count())
        .where(Bid.couple_id == couple.id, Bid.occurred_at >= since)
        .group_by(Bid.kind, Bid.initiator_id, Bid.response)
    ).all()
    by_kind: dict[str, int] = {}
    by_initiator = {"me": 0, "partner": 0}
    by_response = {r.value: 0 for r in Response}
    for kind, initiator_id, response, n in counts:
        by_kind[kind] = by_kind.get(kind, 0) + n
        by_initiator["me" if initiator_id == viewer_id else "partner"] += n
        by_response[response] += n
    toward = by_response[Response.toward]
    negatives = by_response[Response.away] + by_response[Response.against]
    answered = toward + negatives

    horizon = min(first, today - timedelta(days=STREAK_HORIZON_DAYS))
    active = set(
        session.scalars(
            select(CoupleDay.day).where(
                CoupleDay.couple_id == couple.id,
                CoupleDay.toward > 0,
                CoupleDay.day >= horizon,
                CoupleDay.day <= today,
            )
        )
    )
    current, _ = streaks(active, today, horizon)
    _, longest_in_window = streaks(active, today, first)
    return Stats(
        bids_total=sum(by_kind.values()),
        by_kind=dict(sorted(by_kind.items())),
        by_initiator=by_initiator,
        toward_rate=toward / answered if answered else None,
        positive_negative_ratio=toward / negatives if negatives else None,
        unanswered=by_response[Response.pending],
        streak_days=current,
        longest_streak_days=max(longest_in_window, current),
    )
