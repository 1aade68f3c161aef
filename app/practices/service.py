"""Couple plans: propose, accept, decline, end, and their progress.

A plan is proposed by a partner (their proposal is their acceptance: the other partner
decides) or by a consenting coach (both partners decide). At most ``MAX_ACTIVE`` plans are
active at once; the couple's lock serialises the writes that could pass that number.
"""

import uuid
from collections import Counter
from collections.abc import Sequence
from datetime import date, datetime, timedelta

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from app.accounts.models import User
from app.bids.models import Bid
from app.couples import calendar
from app.couples import service as couples
from app.couples.models import Couple
from app.db import among
from app.errors import Conflict, Invalid, NotFound
from app.practices import progress as math
from app.practices.catalogue import BY_PRACTICE
from app.practices.models import CouplePractice
from app.practices.schemas import PlanCreate

MAX_ACTIVE = 5
EVERY_DAY = "1234567"
STARTS_BACK = timedelta(days=7)
STARTS_AHEAD = timedelta(days=365)
LONGEST = timedelta(days=730)
OPEN = ("pending", "active")


def spec(plan: CouplePractice) -> math.Plan:
    return math.Plan(
        practice=BY_PRACTICE[plan.practice],
        target=plan.target,
        days_of_week=frozenset(int(d) for d in plan.days_of_week),
        starts_on=plan.starts_on,
        ends_on=plan.ends_on,
    )


def _active_count(session: Session, couple: Couple, today: date) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(CouplePractice)
            .where(
                CouplePractice.couple_id == couple.id,
                CouplePractice.status == "active",
                or_(CouplePractice.ends_on.is_(None), CouplePractice.ends_on >= today),
            )
        )
        or 0
    )


def _room_for_one_more(session: Session, couple: Couple, today: date) -> None:
    if _active_count(session, couple, today) >= MAX_ACTIVE:
        raise Conflict(
            f"Your couple keeps {MAX_ACTIVE} practices already; end one before adding another."
        )


def propose(
    session: Session,
    couple: Couple,
    body: PlanCreate,
    now: datetime,
    *,
    partner: User | None = None,
    coach: User | None = None,
) -> CouplePractice:
    """A pending plan; a partner's proposal counts as their acceptance."""
    practice = BY_PRACTICE[body.practice]
    target = body.target or practice.default_target
    if target > practice.max_target:
        raise Invalid(
            f"target: at most {practice.max_target} for {practice.title.lower()}", field="target"
        )
    today = calendar.day_of(couple, now)
    starts_on = body.starts_on or today
    if not today - STARTS_BACK <= starts_on <= today + STARTS_AHEAD:
        raise Invalid("starts_on: at most 7 days back and a year ahead", field="starts_on")
    if body.ends_on is not None and not starts_on <= body.ends_on <= starts_on + LONGEST:
        raise Invalid("ends_on: on or after starts_on, within two years", field="ends_on")
    couple = couples.lock_couple(session, couple.id)
    _room_for_one_more(session, couple, today)
    plan = CouplePractice(
        couple_id=couple.id,
        practice=practice.practice,
        target=target,
        days_of_week="".join(str(d) for d in body.days_of_week or range(1, 8)),
        starts_on=starts_on,
        ends_on=body.ends_on,
        status="pending",
        proposed_by_id=proposer.id if (proposer := partner or coach) else None,
        coach_id=coach.id if coach else None,
        accepted_by_id=partner.id if partner else None,
        created_at=now,
    )
    session.add(plan)
    session.flush()
    return plan


def plans_of(session: Session, couple: Couple) -> list[CouplePractice]:
    return list(
        session.scalars(
            select(CouplePractice)
            .where(CouplePractice.couple_id == couple.id)
            .order_by(CouplePractice.created_at, CouplePractice.id)
        )
    )


def plan_of(session: Session, couple: Couple, plan_id: uuid.UUID) -> CouplePractice:
    plan = session.scalars(
        select(CouplePractice).where(
            CouplePractice.couple_id == couple.id, CouplePractice.id == plan_id
        )
    ).one_or_none()
    if plan is None:
        raise NotFound("No practice of your couple has this id.")
    return plan


def _pending(session: Session, couple: Couple, plan_id: uuid.UUID) -> CouplePractice:
    couples.lock_couple(session, couple.id)
    plan = plan_of(session, couple, plan_id)
    if plan.status != "pending":
        raise Conflict(f"This practice is {plan.status}, not waiting for an answer.")
    return plan


def accept(
    session: Session, couple: Couple, partner: User, plan_id: uuid.UUID, now: datetime
) -> CouplePractice:
    plan = _pending(session, couple, plan_id)
    if plan.accepted_by_id == partner.id:
        raise Conflict(
            "You proposed this practice; your partner accepts it."
            if plan.proposed_by_id == partner.id
            else "You have accepted already; your partner has still to."
        )
    if plan.accepted_by_id is None and plan.coach_id is not None:
        plan.accepted_by_id = partner.id  # the first of the two a coach's proposal needs
    else:
        _room_for_one_more(session, couple, calendar.day_of(couple, now))
        plan.status, plan.decided_at = "active", now
    session.flush()
    return plan


def decline(
    session: Session, couple: Couple, partner: User, plan_id: uuid.UUID, now: datetime
) -> CouplePractice:
    plan = _pending(session, couple, plan_id)
    if plan.proposed_by_id == partner.id:
        raise Conflict("You proposed this practice; withdraw it with DELETE instead.")
    plan.status, plan.decided_at = "declined", now
    session.flush()
    return plan


def end(session: Session, couple: Couple, partner: User, plan_id: uuid.UUID, now: datetime) -> None:
    """Either partner ends a plan, or withdraws a pending one."""
    couples.lock_couple(session, couple.id)
    plan = plan_of(session, couple, plan_id)
    if plan.status not in OPEN:
        raise Conflict(f"This practice is {plan.status} already.")
    plan.status, plan.ended_at, plan.ended_by_id = "ended", now, partner.id
    session.flush()


def end_all_for_couple(
    session: Session, couple_id: uuid.UUID, now: datetime, by: uuid.UUID | None = None
) -> None:
    session.execute(
        update(CouplePractice)
        .where(CouplePractice.couple_id == couple_id, CouplePractice.status.in_(OPEN))
        .values(status="ended", ended_at=now, ended_by_id=by)
    )


def withdraw_coach_proposals(
    session: Session,
    now: datetime,
    *,
    coach_id: uuid.UUID,
    couple_id: uuid.UUID | None = None,
) -> None:
    """A coach's proposals still pending when their access ends (a consent revoked, the
    couple or an account erased) are withdrawn: nobody could see them through any more.
    Plans the couple accepted stay theirs."""
    query = update(CouplePractice).where(
        CouplePractice.coach_id == coach_id, CouplePractice.status == "pending"
    )
    if couple_id is not None:
        query = query.where(CouplePractice.couple_id == couple_id)
    session.execute(query.values(status="ended", ended_at=now, ended_by_id=None))


def stage_title(plan: CouplePractice, today: date) -> str | None:
    plan_spec = spec(plan)
    stage = math.stage_on(plan_spec, today) if math.in_plan(plan_spec, today) else None
    return None if stage is None else plan_spec.practice.stages[stage].title


# --- progress ---------------------------------------------------------------------------


def _done(
    session: Session, couple: Couple, plan: math.Plan, first: date, last: date
) -> Counter[date]:
    kinds = {k for s in plan.practice.stages for k in s.kinds} | set(plan.practice.kinds)
    moments = [
        math.Moment(at, kind, duration)
        for at, kind, duration in session.execute(
            select(Bid.occurred_at, Bid.kind, Bid.duration_seconds).where(
                Bid.couple_id == couple.id,
                Bid.response == "toward",
                Bid.kind.in_(sorted(kinds)),
                Bid.occurred_at >= calendar.start_of(couple, first),
                Bid.occurred_at < calendar.end_of(couple, last),
            )
        )
    ]
    return math.counts(plan, moments, couple.timezone, couple.day_start_hour)


def progress(
    session: Session, couple: Couple, plan: CouplePractice, weeks: int, now: datetime
) -> math.Progress:
    today = calendar.day_of(couple, now)
    plan_spec = spec(plan)
    first, last = math.window(today, weeks)
    first = min(first, today - timedelta(days=math.STREAK_HORIZON_DAYS))
    first = max(first, plan.starts_on)
    done = _done(session, couple, plan_spec, first, last) if first <= last else Counter()
    return math.progress(plan_spec, done, today, weeks)


def weekly_adherence(
    session: Session, couple: Couple, weeks: int, now: datetime
) -> list[tuple[CouplePractice, list[math.WeekDone]]]:
    """Each plan the couple accepted or was asked to keep, with done / target per week."""
    today = calendar.day_of(couple, now)
    first, last = math.window(today, weeks)
    result = []
    for plan in plans_of(session, couple):
        plan_spec = spec(plan)
        if plan.status in ("active", "ended") and plan.decided_at is not None:
            done = _done(session, couple, plan_spec, max(first, plan.starts_on), last)
            found = math.progress(plan_spec, done, today, weeks).weeks
        else:
            found = []
        result.append((plan, found))
    return result


# --- for the nudge planner --------------------------------------------------------------


def active_plans(
    session: Session, couple_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[CouplePractice]]:
    """Per couple, its active plans, oldest first."""
    found: dict[uuid.UUID, list[CouplePractice]] = {}
    if not couple_ids:
        return found
    for plan in session.scalars(
        select(CouplePractice)
        .where(
            among(session, CouplePractice.couple_id, couple_ids), CouplePractice.status == "active"
        )
        .order_by(CouplePractice.created_at, CouplePractice.id)
    ):
        found.setdefault(plan.couple_id, []).append(plan)
    return found


def practice_of_the_day(plans: Sequence[CouplePractice], day: date) -> CouplePractice | None:
    """The plan a practice nudge speaks of on ``day``: of those kept that day, one in turn."""
    kept = [p for p in plans if math.is_practice_day(spec(p), day)]
    return kept[day.toordinal() % len(kept)] if kept else None
