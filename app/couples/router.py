from fastapi import APIRouter, status

from app.couples import service
from app.couples.schemas import (
    CouplePublic,
    CoupleUpdate,
    InvitePublic,
    JoinRequest,
    PartnerPublic,
)
from app.deps import ClockDep, CurrentCouple, CurrentPartner, SessionDep, SettingsDep
from app.errors import problem_responses

router = APIRouter(prefix="/v1/couple", tags=["couple"])


def _public(view: service.CoupleView) -> CouplePublic:
    couple = view.couple
    return CouplePublic(
        id=couple.id,
        partner=PartnerPublic(id=view.partner.id, display_name=view.partner.display_name),
        created_at=couple.created_at,
        timezone=couple.timezone,
        day_start_hour=couple.day_start_hour,
        half_life_hours=couple.half_life_hours,
    )


@router.post(
    "/invites",
    status_code=status.HTTP_201_CREATED,
    operation_id="createInvite",
    summary="Create a single-use code for your partner to join you (valid 72 hours)",
    responses=problem_responses(401, 403, 409),
)
def create_invite(
    user: CurrentPartner, session: SessionDep, clock: ClockDep, settings: SettingsDep
) -> InvitePublic:
    code, expires_at = service.create_invite(session, user, now=clock.now(), settings=settings)
    return InvitePublic(code=code, expires_at=expires_at)


@router.post(
    "/join",
    status_code=status.HTTP_201_CREATED,
    operation_id="joinCouple",
    summary="Join your partner with their invite code",
    responses=problem_responses(401, 403, 404, 409, 410, 429),
)
def join(
    body: JoinRequest,
    user: CurrentPartner,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
) -> CouplePublic:
    return _public(service.join(session, user, body.code, now=clock.now(), settings=settings))


@router.get(
    "",
    operation_id="getCouple",
    summary="Your couple: partner, time zone, day start and half-life",
    responses=problem_responses(401, 403, 404),
)
def get_couple(couple: CurrentCouple, user: CurrentPartner, session: SessionDep) -> CouplePublic:
    return _public(service.view_for(session, couple, user.id))


@router.patch(
    "",
    operation_id="updateCouple",
    summary="Change the couple's time zone, day start hour or half-life",
    responses=problem_responses(401, 403, 404),
)
def update_couple(
    body: CoupleUpdate, couple: CurrentCouple, user: CurrentPartner, session: SessionDep
) -> CouplePublic:
    service.update_couple(session, couple, body)
    return _public(service.view_for(session, couple, user.id))


@router.delete(
    "",
    status_code=status.HTTP_204_NO_CONTENT,
    operation_id="endCouple",
    summary="End the couple (either partner); history stays readable to both",
    responses=problem_responses(401, 403, 404),
)
def end_couple(
    couple: CurrentCouple, user: CurrentPartner, session: SessionDep, clock: ClockDep
) -> None:
    service.end_couple(session, couple, user, now=clock.now())
