"""Who is calling: the signed-in user from the bearer token, and their role."""

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from app import security
from app.accounts.models import Role, User
from app.deps import ClockDep, SessionDep, SettingsDep
from app.errors import Forbidden, Unauthorized

_bearer = HTTPBearer(auto_error=False, description="An access token from /v1/auth/login.")


def get_current_user(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    clock: ClockDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> User:
    if credentials is None:
        raise Unauthorized("Send an access token as 'Authorization: Bearer <token>'.")
    try:
        claims = security.decode_access_token(
            credentials.credentials, secret_key=settings.secret_key, now=clock.now()
        )
    except security.InvalidToken as exc:
        raise Unauthorized("The access token is invalid or has expired.") from exc
    user = session.get(User, claims.user_id)
    if user is None or user.session_version != claims.session_version:
        raise Unauthorized("The access token is invalid or has expired.")
    # A problem answered from here on speaks the user's language (app.errors).
    request.state.locale = user.locale
    return user


CurrentUser = Annotated[User, Depends(get_current_user)]


async def get_current_partner(user: CurrentUser) -> User:
    if user.role != Role.partner:
        raise Forbidden("Only partner accounts can do this.")
    return user


async def get_current_coach(user: CurrentUser) -> User:
    if user.role != Role.coach:
        raise Forbidden("Only coach accounts can do this.")
    return user


CurrentPartner = Annotated[User, Depends(get_current_partner)]
CurrentCoach = Annotated[User, Depends(get_current_coach)]
