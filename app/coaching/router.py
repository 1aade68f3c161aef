import uuid
from typing import Annotated

from fastapi import APIRouter, Query, status

from app.accounts.dependencies import CurrentCoach, CurrentPartner
from app.coaching import service
from app.coaching.models import CONSENT_TEXT_VERSION, CoachProfile
from app.coaching.schemas import (
    AccessLogEntry,
    CoachConsentState,
    CoachedCouple,
    CoachProfilePublic,
    CoachPublic,
    ConsentEvent,
    ConsentRequest,
    CoupleProgress,
    PartnerShare,
    WeekProgress,
)
from app.couples.dependencies import CurrentCouple, HistoryCouple
from app.deps import ClockDep, SessionDep, writes_on_read
from app.errors import problem_responses
from app.i18n import words
from app.pagination import (
    Page,
    PageParamsDep,
    decode_instant_cursor,
    decode_uuid_cursor,
    encode_instant_cursor,
    page_of,
)
from app.practices.catalogue import BY_PRACTICE
from app.practices.models import CouplePractice
from app.practices.progress import WeekDone
from app.practices.schemas import Adherence, PlanCreate, WeekPublic

coach_router = APIRouter(prefix="/v1/coach", tags=["coach"])
couple_router = APIRouter(prefix="/v1/couple", tags=["coach consent"])


def _profile(profile: CoachProfile) -> CoachProfilePublic:
    return CoachProfilePublic(
        code=profile.code,
        code_rotated_at=profile.code_rotated_at,
        consent_text_version=CONSENT_TEXT_VERSION,
    )


def _state(state: service.CoachState, me: uuid.UUID) -> CoachConsentState:
    return CoachConsentState(
        coach=CoachPublic(id=state.coach_id, display_name=state.coach_name),
        state=state.state,
        active_since=state.since,
        history=[
            ConsentEvent(
                partner=None
                if c.partner_id is None
                else ("me" if c.partner_id == me else "partner"),
                granted_at=c.granted_at,
                revoked_at=c.revoked_at,
                revoke_reason=c.revoke_reason,
                scope=c.scope,
                consent_version=c.consent_version,
            )
            for c in state.history
        ],
    )


@coach_router.get(
    "/profile",
    operation_id="getCoachProfile",
    summary="Your coach code (coach accounts)",
    responses=problem_responses(401, 403),
)
def get_profile(coach: CurrentCoach, session: SessionDep, clock: ClockDep) -> CoachProfilePublic:
    return _profile(service.profile_of(session, coach, clock.now()))


@coach_router.post(
    "/profile/code",
    operation_id="rotateCoachCode",
    summary="Make a new coach code; the old one stops working",
    responses=problem_responses(401, 403),
)
def rotate_code(coach: CurrentCoach, session: SessionDep, clock: ClockDep) -> CoachProfilePublic:
    return _profile(service.rotate_code(session, coach, clock.now()))


@coach_router.get(
    "/couples",
    operation_id="listCoachedCouples",
    summary="Couples whose two partners both let you see their progress",
    responses=problem_responses(401, 403),
)
@writes_on_read
def list_couples(
    coach: CurrentCoach, session: SessionDep, clock: ClockDep, page: PageParamsDep
) -> Page[CoachedCouple]:
    after = decode_uuid_cursor(page.cursor) if page.cursor else None
    rows = service.consenting_couples(session, coach, clock.now(), limit=page.limit, after=after)
    items, next_cursor = page_of(rows, page.limit, lambda s: [str(s.couple_id)])
    return Page[CoachedCouple](
        items=[CoachedCouple(**vars(s)) for s in items], next_cursor=next_cursor
    )


@coach_router.get(
    "/couples/{couple_id}/progress",
    operation_id="getCoupleProgress",
    summary="A consenting couple's weekly figures (no single bid, nothing finer than a day)",
    responses=problem_responses(401, 403, 404),
)
@writes_on_read
def get_progress(
    couple_id: uuid.UUID,
    coach: CurrentCoach,
    session: SessionDep,
    clock: ClockDep,
    weeks: Annotated[int, Query(ge=1, le=52)] = 12,
) -> CoupleProgress:
    couple, partners, result = service.progress(session, coach, couple_id, weeks, clock.now())
    names = {p.id: service.first_name(p.display_name) for p in partners}
    return CoupleProgress(
        couple_id=couple.id,
        first_names=list(names.values()),
        weeks=[
            WeekProgress(
                week_start=w.week_start,
                bids=w.bids,
                toward_rate=w.counts.toward_rate,
                positive_negative_ratio=w.counts.positive_negative_ratio,
                end_balance=w.end_balance,
                active_days=w.counts.active_days,
                initiative=[
                    PartnerShare(first_name=names[pid], share=s) for pid, s in w.initiative.items()
                ],
            )
            for w in result
        ],
    )


@coach_router.post(
    "/couples/{couple_id}/practices",
    status_code=status.HTTP_201_CREATED,
    operation_id="proposeCouplePractice",
    summary="Propose a practice to a consenting couple (both partners must accept it)",
    responses=problem_responses(401, 403, 404, 409),
)
def propose_practice(
    couple_id: uuid.UUID,
    body: PlanCreate,
    coach: CurrentCoach,
    session: SessionDep,
    clock: ClockDep,
) -> Adherence:
    plan = service.propose_practice(session, coach, couple_id, body, clock.now())
    return _adherence(plan, [], coach.id, coach.locale)


@coach_router.get(
    "/couples/{couple_id}/practices",
    operation_id="getCouplePracticeAdherence",
    summary="A consenting couple's practices: done / target per week, never which bids",
    responses=problem_responses(401, 403, 404),
)
@writes_on_read
def get_practices(
    couple_id: uuid.UUID,
    coach: CurrentCoach,
    session: SessionDep,
    clock: ClockDep,
    weeks: Annotated[int, Query(ge=1, le=52)] = 12,
) -> list[Adherence]:
    rows = service.practice_adherence(session, coach, couple_id, weeks, clock.now())
    return [_adherence(plan, found, coach.id, coach.locale) for plan, found in rows]


def _adherence(
    plan: CouplePractice, weeks: list[WeekDone], coach_id: uuid.UUID, locale: str
) -> Adherence:
    if plan.coach_id is not None:
        proposed_by = "you" if plan.coach_id == coach_id else "another_coach"
    elif plan.proposed_by_id is not None:
        proposed_by = "partner"
    else:
        proposed_by = None
    return Adherence(
        id=plan.id,
        practice=plan.practice,
        title=words(locale).gettext(BY_PRACTICE[plan.practice].title),
        status=plan.status,
        proposed_by=proposed_by,
        starts_on=plan.starts_on,
        ends_on=plan.ends_on,
        weeks=[
            WeekPublic(week_start=w.week_start, done=w.done, target=w.target, partial=w.partial)
            for w in weeks
        ],
    )


@couple_router.post(
    "/coaches",
    status_code=status.HTTP_201_CREATED,
    operation_id="grantCoachAccess",
    summary="Let a coach see your couple's aggregate progress (both partners must)",
    responses=problem_responses(401, 403, 404, 409, 429),
)
def grant(
    body: ConsentRequest,
    partner: CurrentPartner,
    couple: CurrentCouple,
    session: SessionDep,
    clock: ClockDep,
) -> CoachConsentState:
    return _state(service.grant(session, partner, couple, body.coach_code, clock.now()), partner.id)


@couple_router.get(
    "/coaches",
    operation_id="listCoupleCoaches",
    summary="Coaches of your couple, with each grant and revocation",
    responses=problem_responses(401, 403, 404),
)
def list_coaches(
    partner: CurrentPartner, couple: HistoryCouple, session: SessionDep
) -> list[CoachConsentState]:
    return [_state(s, partner.id) for s in service.coaches_of(session, couple, partner.id)]


@couple_router.delete(
    "/coaches/{coach_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    operation_id="revokeCoachAccess",
    summary="Withdraw your consent; the coach loses access at once",
    responses=problem_responses(401, 403, 404),
)
def revoke(
    coach_id: uuid.UUID,
    partner: CurrentPartner,
    couple: CurrentCouple,
    session: SessionDep,
    clock: ClockDep,
) -> None:
    service.revoke(session, partner, couple, coach_id, clock.now())


@couple_router.get(
    "/coach-access-log",
    operation_id="getCoachAccessLog",
    summary="Every read of your couple's data by a coach, newest first",
    responses=problem_responses(401, 403, 404),
)
def get_access_log(
    partner: CurrentPartner, couple: HistoryCouple, session: SessionDep, page: PageParamsDep
) -> Page[AccessLogEntry]:
    after = decode_instant_cursor(page.cursor) if page.cursor else None
    rows = service.access_log(session, couple, limit=page.limit, after=after)
    items, next_cursor = page_of(
        rows, page.limit, lambda r: encode_instant_cursor(r[0].at, r[0].id)
    )
    return Page[AccessLogEntry](
        items=[
            AccessLogEntry(
                id=entry.id,
                coach=CoachPublic(id=entry.coach_id, display_name=name) if entry.coach_id else None,
                view=entry.view,
                at=entry.at,
            )
            for entry, name in items
        ],
        next_cursor=next_cursor,
    )
