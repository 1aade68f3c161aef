from fastapi import APIRouter, status

from app.accounts import links, service
from app.accounts.dependencies import CurrentUser
from app.accounts.schemas import (
    Accepted,
    EmailChange,
    EmailVerification,
    LoginRequest,
    PasswordChange,
    PasswordResetConfirm,
    PasswordResetRequest,
    RefreshRequest,
    TokenPair,
    UserPublic,
)
from app.deps import ClientDep, ClockDep, SessionDep, SettingsDep
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


# --- mail: verification, password reset, email change (SPEC §3) -----------------------

RESET_ACCEPTED = (
    "If an account has this address, a mail with a link to choose a new password is on "
    "its way; the link works once, for 30 minutes."
)


@auth_router.post(
    "/verify-email",
    status_code=status.HTTP_204_NO_CONTENT,
    operation_id="verifyEmail",
    summary="Confirm an address with the token of a mailed link (verification or change)",
    responses=problem_responses(409, 410, 429),
)
def verify_email(
    body: EmailVerification, session: SessionDep, clock: ClockDep, client: ClientDep
) -> None:
    links.verify_email(session, body.token, now=clock.now(), client=client)


@auth_router.post(
    "/password-reset",
    status_code=status.HTTP_202_ACCEPTED,
    operation_id="requestPasswordReset",
    summary="Mail a password reset link (the same answer whether or not the account exists)",
    responses=problem_responses(429),
)
def request_password_reset(
    body: PasswordResetRequest,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
    client: ClientDep,
) -> Accepted:
    links.request_password_reset(
        session, body.email, now=clock.now(), settings=settings, client=client
    )
    return Accepted(message=RESET_ACCEPTED)


@auth_router.post(
    "/password-reset/confirm",
    status_code=status.HTTP_204_NO_CONTENT,
    operation_id="confirmPasswordReset",
    summary="Set a new password with a reset link's token; every sign-in ends",
    responses=problem_responses(410, 429),
)
def confirm_password_reset(
    body: PasswordResetConfirm,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
    client: ClientDep,
) -> None:
    service.reset_password(
        session, body.token, body.password, now=clock.now(), settings=settings, client=client
    )


@me_router.post(
    "/email-verification",
    status_code=status.HTTP_202_ACCEPTED,
    operation_id="resendEmailVerification",
    summary="Mail a new verification link to your address (older links stop working)",
    responses=problem_responses(401, 409, 429),
)
def resend_email_verification(
    user: CurrentUser, session: SessionDep, clock: ClockDep, settings: SettingsDep
) -> Accepted:
    links.resend_verification(session, user, now=clock.now(), settings=settings)
    return Accepted(message="A mail with a link to confirm your address is on its way.")


@me_router.post(
    "/email",
    status_code=status.HTTP_202_ACCEPTED,
    operation_id="changeEmail",
    summary="Move your account to another address, once a link mailed there comes back",
    responses=problem_responses(401, 403, 409, 429),
)
def change_email(
    body: EmailChange,
    user: CurrentUser,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
) -> Accepted:
    service.request_email_change(session, user, body, now=clock.now(), settings=settings)
    return Accepted(
        message=(
            "A mail with a link is on its way to the new address; your account moves there "
            "when the link is opened. Your current address was told."
        )
    )
