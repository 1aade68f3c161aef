from fastapi import APIRouter, status

from app.accounts.dependencies import CurrentPartner
from app.couples import service
from app.couples.dependencies import CurrentCouple
from app.couples.schemas import (
    CouplePublic,
    InvitePublic,
    JoinRequest,
)
from app.deps import ClockDep, SessionDep, SettingsDep
from app.errors import problem_responses

router = APIRouter(prefix="/v1/couple", tags=["couple"])


def _public(view: service.CoupleView) -> CouplePublic:
    return CouplePublic.of(view.couple, view.partner)


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
