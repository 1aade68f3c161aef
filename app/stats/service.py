"""Every figure about a couple: counts over days and weeks, the toward rate, the
positive-to-negative ratio, streaks, initiative. Each is computed here and only here;
the coach's views, the nudge planner and the API ask for it.

Day figures come from the bank's per-day rollups (``CoupleDay``), which count each day's
bids by answer; what the rollups do not hold (kinds, initiators) is counted from the bids.
"""

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from app.bank import service as bank
from app.bank.math import Response
from app.bank.models import CoupleDay
from app.bids.models import Bid
from app.couples import calendar
from app.couples.models import Couple
from app.db import among
from app.stats.streaks import streaks

# How far back a current streak is followed, whatever the window.
STREAK_HORIZON_DAYS = 400
WEEK_DAYS = 7


def toward_rate(toward: int, answered: int) -> float | None:
    """The share of answered bids that were turned toward; None with none answered."""
    return toward / answered if answered else None


def positive_negative_ratio(toward: int, negatives: int) -> float | None:
    """Turned toward per turned away or against; None with no negatives."""
    return toward / negatives if negatives else None


@dataclass(frozen=True)
class DayCounts:
    """A span of a couple's days, added up."""

    bids: int = 0
    toward: int = 0
    away: int = 0
    against: int = 0
    active_days: int = 0

    @property
    def negatives(self) -> int:
        return self.away + self.against

    @property
    def answered(self) -> int:
        return self.toward + self.negatives

    @property
    def toward_rate(self) -> float | None:
        return toward_rate(self.toward, self.answered)

    @property
    def positive_negative_ratio(self) -> float | None:
        return positive_negative_ratio(self.toward, self.negatives)


def day_counts(session: Session, couple: Couple, first: date, last: date) -> DayCounts:
    """The couple's days from ``first`` to ``last`` (both included), added up."""
    row = session.execute(
        select(
            func.coalesce(func.sum(CoupleDay.bids), 0),
            func.coalesce(func.sum(CoupleDay.toward), 0),
            func.coalesce(func.sum(CoupleDay.away), 0),
            func.coalesce(func.sum(CoupleDay.against), 0),
            func.count().filter(CoupleDay.bids > 0),
        ).where(CoupleDay.couple_id == couple.id, CoupleDay.day >= first, CoupleDay.day <= last)
    ).one()
    return DayCounts(*(int(value) for value in row))


def last_active_day(session: Session, couple: Couple) -> date | None:
    """The latest local day with a bid."""
    return session.scalar(
        select(func.max(CoupleDay.day)).where(CoupleDay.couple_id == couple.id, CoupleDay.bids > 0)
    )


def toward_rate_over(session: Session, couple: Couple, days: int, now: datetime) -> float | None:
    """The toward rate over the last ``days`` local days, today included."""
    today = calendar.day_of(couple, now)
    return day_counts(session, couple, today - timedelta(days=days - 1), today).toward_rate


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
    today = calendar.day_of(couple, now)
    first = today - timedelta(days=days - 1)
    since = calendar.start_of(couple, first)
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
        toward_rate=toward_rate(toward, toward + negatives),
        positive_negative_ratio=positive_negative_ratio(toward, negatives),
        unanswered=by_response[Response.pending],
        streak_days=current,
        longest_streak_days=max(longest_in_window, current),
    )


@dataclass(frozen=True)
class Week:
    """A couple's local week, Monday to Sunday; the current week counts so far."""

    week_start: date
    counts: DayCounts
    end_balance: float
    initiative: dict[uuid.UUID, float]

    @property
    def bids(self) -> int:
        return self.counts.bids


def weeks(
    session: Session,
    couple: Couple,
    partner_ids: Sequence[uuid.UUID],
    count: int,
    now: datetime,
) -> list[Week]:
    """The last ``count`` weeks, this one last: figures from the day rollups, the balance at
    each week's end, and each partner's share of the bids initiated."""
    today = calendar.day_of(couple, now)
    first = calendar.week_start(today) - timedelta(weeks=count - 1)
    starts = [first + timedelta(weeks=n) for n in range(count)]
    days = session.execute(
        select(
            CoupleDay.day, CoupleDay.bids, CoupleDay.toward, CoupleDay.away, CoupleDay.against
        ).where(CoupleDay.couple_id == couple.id, CoupleDay.day >= first)
    ).all()
    by_week: dict[date, list[tuple[int, int, int, int]]] = {s: [] for s in starts}
    for day in days:
        start = first + timedelta(weeks=(day.day - first).days // WEEK_DAYS)
        by_week[start].append((day.bids, day.toward, day.away, day.against))

    ends = [start + timedelta(days=WEEK_DAYS - 1) for start in starts]
    past = [end for end in ends if end < today]
    end_balances = bank.balances_at_end_of(session, couple, past) + [
        bank.balance_now(session, couple, now)
    ] * (len(ends) - len(past))

    shares = _initiative(session, couple, partner_ids, starts)
    result = []
    for start, end_balance, share in zip(starts, end_balances, shares, strict=True):
        in_week = by_week[start]
        counts = DayCounts(
            bids=sum(d[0] for d in in_week),
            toward=sum(d[1] for d in in_week),
            away=sum(d[2] for d in in_week),
            against=sum(d[3] for d in in_week),
            active_days=sum(1 for d in in_week if d[0] > 0),
        )
        result.append(Week(start, counts, end_balance, share))
    return result


def _initiative(
    session: Session, couple: Couple, partner_ids: Sequence[uuid.UUID], starts: list[date]
) -> list[dict[uuid.UUID, float]]:
    """Each partner's share of each week's bids by initiator, counted in the database with
    every week bounded by the instants at which it starts and ends in the couple's zone."""
    boundaries = [calendar.start_of(couple, start) for start in starts]
    boundaries.append(calendar.start_of(couple, starts[-1] + timedelta(weeks=1)))
    week_of_bid = case(
        *((Bid.occurred_at < boundary, n) for n, boundary in enumerate(boundaries[1:])),
        else_=len(starts),
    )
    counts = [dict.fromkeys(partner_ids, 0) for _ in starts]
    for n, initiator_id, count in session.execute(
        select(week_of_bid, Bid.initiator_id, func.count())
        .where(
            Bid.couple_id == couple.id,
            Bid.occurred_at >= boundaries[0],
            Bid.occurred_at < boundaries[-1],
        )
        .group_by(week_of_bid, Bid.initiator_id)
    ):
        if initiator_id in counts[n]:
            counts[n][initiator_id] += count
    shares = []
    for week in counts:
        total = sum(week.values())
        shares.append({pid: (c / total if total else 0.0) for pid, c in week.items()})
    return shares


def week_ending(session: Session, couple: Couple, last_day: date) -> DayCounts:
    """The seven local days that end with ``last_day``."""
    return day_counts(session, couple, last_day - timedelta(days=WEEK_DAYS - 1), last_day)


# Across many couples at once, for the nudge planner's batches.


def kind_counts(
    session: Session, couple_ids: list[uuid.UUID], since: datetime
) -> dict[uuid.UUID, dict[str, int]]:
    """Per couple, how many bids of each kind occurred since ``since``."""
    counts: dict[uuid.UUID, dict[str, int]] = defaultdict(dict)
    for couple_id, kind, n in session.execute(
        select(Bid.couple_id, Bid.kind, func.count())
        .where(among(session, Bid.couple_id, couple_ids), Bid.occurred_at > since)
        .group_by(Bid.couple_id, Bid.kind)
    ):
        counts[couple_id][kind] = n
    return counts


def last_bid_at(session: Session, couple_ids: list[uuid.UUID]) -> dict[uuid.UUID, datetime]:
    """Per couple with any bid, when its latest bid occurred."""
    return dict(
        session.execute(
            select(Bid.couple_id, func.max(Bid.occurred_at))
            .where(among(session, Bid.couple_id, couple_ids))
            .group_by(Bid.couple_id)
        ).all()
    )
