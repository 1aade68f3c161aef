"""The routes whose work spans domains (``app.lifecycle.service``); they keep the paths,
tags and operation ids of the resources they act on."""

from typing import Annotated

from fastapi import APIRouter, Header, Response, status

from app.accounts.dependencies import CurrentPartner, CurrentUser
from app.accounts.schemas import (
    EraseRequest,
    ExportDocument,
    MeUpdate,
    RegisterRequest,
    RegisterResponse,
    UserPublic,
)
from app.couples import service as couples
from app.couples.dependencies import CurrentCouple
from app.couples.schemas import CouplePublic, CoupleUpdate
from app.deps import ClockDep, KeysDep, SessionDep, SettingsDep
from app.errors import problem_responses
from app.i18n import negotiate
from app.lifecycle import export, service

auth_router = APIRouter(prefix="/v1/auth", tags=["auth"])
me_router = APIRouter(prefix="/v1/me", tags=["me"])
couple_router = APIRouter(prefix="/v1/couple", tags=["couple"])


@auth_router.post(
    "/register",
    status_code=status.HTTP_201_CREATED,
    operation_id="register",
    summary="Create an account (partner or coach) and sign in",
    responses=problem_responses(409),
)
def register(
    body: RegisterRequest,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
    accept_language: Annotated[
        str | None,
        Header(
            description="The phone's languages: the account's `locale` is the best match "
            "Tend speaks (en, de, fr, es), English when none is.",
            examples=["de-DE,de;q=0.9,en;q=0.8"],
        ),
    ] = None,
) -> RegisterResponse:
    user, tokens = service.register(
        session, body, now=clock.now(), settings=settings, locale=negotiate(accept_language)
    )
    return RegisterResponse(user=UserPublic.model_validate(user), **tokens.model_dump())


@me_router.patch(
    "",
    operation_id="updateMe",
    summary="Change display name, time zone or language",
    responses=problem_responses(401),
)
def update_me(
    body: MeUpdate, user: CurrentUser, session: SessionDep, clock: ClockDep
) -> UserPublic:
    return UserPublic.model_validate(service.update_me(session, user, body, now=clock.now()))


@me_router.delete(
    "",
    status_code=status.HTTP_204_NO_CONTENT,
    operation_id="deleteMe",
    summary="Erase your account, with your password: bids you logged, devices, consents",
    responses=problem_responses(401, 403, 429),
)
def delete_me(
    body: EraseRequest,
    user: CurrentUser,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
    keys: KeysDep,
) -> None:
    service.erase(session, user, body.password, now=clock.now(), settings=settings, keys=keys)


@me_router.get(
    "/export",
    operation_id="exportMe",
    summary="Everything stored about you and your couples' shared history, as one document",
    responses=problem_responses(401),
)
def export_me(
    user: CurrentUser, session: SessionDep, clock: ClockDep, keys: KeysDep, response: Response
) -> ExportDocument:
    now = clock.now()
    response.headers["Content-Disposition"] = (
        f'attachment; filename="tend-export-{now:%Y%m%d}.json"'
    )
    return ExportDocument.model_validate(export.export(session, user, now=now, keys=keys))


@couple_router.patch(
    "",
    operation_id="updateCouple",
    summary="Change the couple's time zone, day start hour or half-life",
    responses=problem_responses(401, 403, 404),
)
def update_couple(
    body: CoupleUpdate,
    couple: CurrentCouple,
    user: CurrentPartner,
    session: SessionDep,
    clock: ClockDep,
) -> CouplePublic:
    service.change_couple(session, couple, body, now=clock.now())
    view = couples.view_for(session, couple, user.id)
    return CouplePublic.of(view.couple, view.partner)


@couple_router.delete(
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
