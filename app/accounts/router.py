from fastapi import APIRouter, status

from app.accounts import service
from app.accounts.dependencies import CurrentUser
from app.accounts.schemas import (
    LoginRequest,
    PasswordChange,
    RefreshRequest,
    TokenPair,
    UserPublic,
)
from app.deps import ClockDep, SessionDep, SettingsDep
from app.errors import problem_responses

auth_router = APIRouter(prefix="/v1/auth", tags=["auth"])
me_router = APIRouter(prefix="/v1/me", tags=["me"])


@auth_router.post(
    "/login",
    operation_id="login",
    summary="Sign in with email and password",
    responses=problem_responses(401, 429),
)
def login(
    body: LoginRequest, session: SessionDep, clock: ClockDep, settings: SettingsDep
) -> TokenPair:
    return service.login(session, body, now=clock.now(), settings=settings)


@auth_router.post(
    "/refresh",
    operation_id="refreshTokens",
    summary="Exchange a refresh token for a new token pair (single use, rotated)",
    responses=problem_responses(401),
)
def refresh(
    body: RefreshRequest, session: SessionDep, clock: ClockDep, settings: SettingsDep
) -> TokenPair:
    return service.refresh(session, body.refresh_token, now=clock.now(), settings=settings)


@auth_router.post(
    "/logout",
    status_code=status.HTTP_204_NO_CONTENT,
    operation_id="logout",
    summary="End the sign-in that this refresh token belongs to",
    responses=problem_responses(),
)
def logout(body: RefreshRequest, session: SessionDep, clock: ClockDep) -> None:
    service.logout(session, body.refresh_token, now=clock.now())


@me_router.get(
    "",
    operation_id="getMe",
    summary="The signed-in account",
    responses=problem_responses(401),
)
def get_me(user: CurrentUser) -> UserPublic:
    return UserPublic.model_validate(user)


@me_router.post(
    "/password",
    operation_id="changePassword",
    summary="Change your password; every other sign-in ends at once",
    responses=problem_responses(401, 403, 429),
)
def change_password(
    body: PasswordChange,
    user: CurrentUser,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
) -> TokenPair:
    return service.change_password(session, user, body, now=clock.now(), settings=settings)
