import uuid
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Header, Query, Response, status

from app.accounts.dependencies import CurrentPartner
from app.couples import calendar
from app.couples.dependencies import CurrentCouple, HistoryCouple
from app.deps import ClockDep, SessionDep
from app.errors import problem_responses
from app.i18n import Words, negotiate, words
from app.practices import service
from app.practices.catalogue import BY_PRACTICE, CATALOGUE
from app.practices.models import CouplePractice
from app.practices.schemas import (
    DayPublic,
    Party,
    PlanCreate,
    PlanProgress,
    PlanPublic,
    PracticePublic,
    StagePublic,
    WeekPublic,
)

router = APIRouter(tags=["practices"])

Weeks = Annotated[int, Query(ge=1, le=52, description="Local weeks, this one last")]


def plan_public(plan: CouplePractice, me: uuid.UUID, today: date, locale: str) -> PlanPublic:
    """A plan as its partner reads it, titles in their language."""
    t = words(locale)
    practice = BY_PRACTICE[plan.practice]
    proposed_by: Party | None
    if plan.coach_id is not None:
        proposed_by = "coach"
    elif plan.proposed_by_id is None:
        proposed_by = None
    else:
        proposed_by = "me" if plan.proposed_by_id == me else "partner"
    waiting_for = None
    if plan.status == "pending":
        if plan.accepted_by_id is None:
            waiting_for = "both"
        else:
            waiting_for = "partner" if plan.accepted_by_id == me else "me"
    return PlanPublic(
        id=plan.id,
        practice=plan.practice,
        title=t.gettext(practice.title),
        cadence=practice.cadence,
        target=plan.target,
        days_of_week=[int(d) for d in plan.days_of_week],
        starts_on=plan.starts_on,
        ends_on=plan.ends_on,
        status=plan.status,
        proposed_by=proposed_by,
        waiting_for=waiting_for,
        created_at=plan.created_at,
        decided_at=plan.decided_at,
        ended_at=plan.ended_at,
        stage=_translated(t, service.stage_title(plan, today)),
    )


def _translated(t: Words, message: str | None) -> str | None:
    return None if message is None else t.gettext(message)


@router.get(
    "/v1/practices",
    operation_id="listPractices",
    summary="The catalogue of practices a couple may keep",
    description="Titles and descriptions come in the best match of `Accept-Language` that "
    "Tend speaks (English when none is); `Content-Language` says which.",
    responses=problem_responses(),
)
def list_practices(
    response: Response,
    accept_language: Annotated[str | None, Header(examples=["de-DE,de;q=0.9,en;q=0.5"])] = None,
) -> list[PracticePublic]:
    t = words(negotiate(accept_language))
    response.headers["Content-Language"] = t.locale
    response.headers["Vary"] = "Accept-Language"
    return [
        PracticePublic(
            practice=p.practice,
            title=t.gettext(p.title),
            description=t.gettext(p.description),
            kinds=list(p.kinds),
            min_duration_seconds=p.min_duration_seconds,
            cadence=p.cadence,
            default_target=p.default_target,
            max_target=p.max_target,
            stages=[StagePublic(title=t.gettext(s.title), kinds=list(s.kinds)) for s in p.stages]
            or None,
        )
        for p in CATALOGUE
    ]


@router.get(
    "/v1/couple/practices",
    operation_id="listCouplePractices",
    summary="Your couple's practices: proposed, kept, declined and ended",
    responses=problem_responses(401, 403, 404),
)
def list_plans(
    partner: CurrentPartner, couple: HistoryCouple, session: SessionDep, clock: ClockDep
) -> list[PlanPublic]:
    today = calendar.day_of(couple, clock.now())
    return [
        plan_public(p, partner.id, today, partner.locale) for p in service.plans_of(session, couple)
    ]


@router.post(
    "/v1/couple/practices",
    status_code=status.HTTP_201_CREATED,
    operation_id="proposePractice",
    summary="Propose a practice; it starts once your partner accepts (at most 5 at once)",
    responses=problem_responses(401, 403, 404, 409),
)
def propose(
    body: PlanCreate,
    partner: CurrentPartner,
    couple: CurrentCouple,
    session: SessionDep,
    clock: ClockDep,
) -> PlanPublic:
    now = clock.now()
    plan = service.propose(session, couple, body, now, partner=partner)
    return plan_public(plan, partner.id, calendar.day_of(couple, now), partner.locale)


def _answer(
    action: str,
    practice_id: uuid.UUID,
    partner: CurrentPartner,
    couple: CurrentCouple,
    session: SessionDep,
    clock: ClockDep,
) -> PlanPublic:
    now = clock.now()
    decide = service.accept if action == "accept" else service.decline
    plan = decide(session, couple, partner, practice_id, now)
    return plan_public(plan, partner.id, calendar.day_of(couple, now), partner.locale)


@router.post(
    "/v1/couple/practices/{practice_id}/accept",
    operation_id="acceptPractice",
    summary="Accept a practice your partner or your coach proposed",
    responses=problem_responses(401, 403, 404, 409),
)
def accept(
    practice_id: uuid.UUID,
    partner: CurrentPartner,
    couple: CurrentCouple,
    session: SessionDep,
    clock: ClockDep,
) -> PlanPublic:
    return _answer("accept", practice_id, partner, couple, session, clock)


@router.post(
    "/v1/couple/practices/{practice_id}/decline",
    operation_id="declinePractice",
    summary="Decline a practice your partner or your coach proposed",
    responses=problem_responses(401, 403, 404, 409),
)
def decline(
    practice_id: uuid.UUID,
    partner: CurrentPartner,
    couple: CurrentCouple,
    session: SessionDep,
    clock: ClockDep,
) -> PlanPublic:
    return _answer("decline", practice_id, partner, couple, session, clock)


@router.delete(
    "/v1/couple/practices/{practice_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    operation_id="endPractice",
    summary="End a practice, or withdraw a proposal (either partner)",
    responses=problem_responses(401, 403, 404, 409),
)
def end(
    practice_id: uuid.UUID,
    partner: CurrentPartner,
    couple: CurrentCouple,
    session: SessionDep,
    clock: ClockDep,
) -> None:
    service.end(session, couple, partner, practice_id, clock.now())


@router.get(
    "/v1/couple/practices/{practice_id}/progress",
    operation_id="getPracticeProgress",
    summary="A practice's done / target per local day and week, and its streak",
    responses=problem_responses(401, 403, 404),
)
def get_progress(
    practice_id: uuid.UUID,
    partner: CurrentPartner,
    couple: HistoryCouple,
    session: SessionDep,
    clock: ClockDep,
    weeks: Weeks = 8,
) -> PlanProgress:
    now = clock.now()
    plan = service.plan_of(session, couple, practice_id)
    result = service.progress(session, couple, plan, weeks, now)
    return PlanProgress(
        id=plan.id,
        practice=plan.practice,
        days=[DayPublic(day=d.day, done=d.done, target=d.target) for d in result.days],
        weeks=[
            WeekPublic(week_start=w.week_start, done=w.done, target=w.target, partial=w.partial)
            for w in result.weeks
        ],
        streak=result.streak,
        streak_unit=result.streak_unit,
        stage=_translated(
            words(partner.locale), service.stage_title(plan, calendar.day_of(couple, now))
        ),
    )
