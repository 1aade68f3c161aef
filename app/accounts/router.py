from fastapi import APIRouter, Response, status

from app.accounts import export, service
from app.accounts.schemas import (
    EraseRequest,
    ExportDocument,
    LoginRequest,
    MeUpdate,
    PasswordChange,
    RefreshRequest,
    RegisterRequest,
    RegisterResponse,
    TokenPair,
    UserPublic,
)
from app.deps import ClockDep, CurrentUser, SessionDep, SettingsDep
from app.errors import problem_responses

auth_router = APIRouter(prefix="/v1/auth", tags=["auth"])
me_router = APIRouter(prefix="/v1/me", tags=["me"])


@auth_router.post(
    "/register",
    status_code=status.HTTP_201_CREATED,
    operation_id="register",
    summary="Create an account (partner or coach) and sign in",
    responses=problem_responses(409),
)
def register(
    body: RegisterRequest, session: SessionDep, clock: ClockDep, settings: SettingsDep
) -> RegisterResponse:
    user, tokens = service.register(session, body, now=clock.now(), settings=settings)
    return RegisterResponse(user=UserPublic.model_validate(user), **tokens.model_dump())


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


@me_router.patch(
    "",
    operation_id="updateMe",
    summary="Change display name or time zone",
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
) -> None:
    service.erase(session, user, body.password, now=clock.now(), settings=settings)


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


@me_router.get(
    "/export",
    operation_id="exportMe",
    summary="Everything stored about you and your couples' shared history, as one document",
    responses=problem_responses(401),
)
def export_me(
    user: CurrentUser, session: SessionDep, clock: ClockDep, response: Response
) -> ExportDocument:
    now = clock.now()
    response.headers["Content-Disposition"] = (
        f'attachment; filename="tend-export-{now:%Y%m%d}.json"'
    )
    return ExportDocument.model_validate(export.export(session, user, now=now))
