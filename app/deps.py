"""Request dependencies: the session (one transaction per request), the clock, the caller."""

import logging
from collections.abc import Callable, Iterator
from contextlib import nullcontext
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.exc import DataError, IntegrityError
from sqlalchemy.orm import Session

from app import security
from app.accounts.models import Role, User
from app.clock import Clock
from app.config import Settings
from app.couples import service as couples_service
from app.couples.models import Couple
from app.db import writing
from app.errors import Conflict, Forbidden, Invalid, NotFound, Unauthorized

log = logging.getLogger(__name__)
_READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_WRITES_ON_READ = "__tend_writes_on_read__"

F = TypeVar("F", bound=Callable[..., Any])


def writes_on_read(endpoint: F) -> F:
    """Mark a GET route that writes (an access log entry), so its transaction starts as a
    writer: on SQLite a read transaction cannot become a writer once another has written."""
    setattr(endpoint, _WRITES_ON_READ, True)
    return endpoint


def _writes(request: Request) -> bool:
    if request.method not in _READ_METHODS:
        return True
    endpoint = getattr(request.scope.get("route"), "endpoint", None)
    return bool(getattr(endpoint, _WRITES_ON_READ, False))


# Dependencies that do no I/O are ``async``: FastAPI runs each plain ``def`` dependency in
# its thread pool, a hop between threads that costs more than such a dependency's work.


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_clock(request: Request) -> Clock:
    clock: Clock = request.app.state.clock
    return clock


def get_session(request: Request) -> Iterator[Session]:
    """One transaction per request, committed before the response is sent.

    Declared with scope="function" so that a 2xx on a write means the data is durable.
    """
    write = _writes(request)
    with (
        request.app.state.session_factory() as session,
        writing(session) if write else nullcontext(),
    ):
        try:
            yield session
            session.commit()
        except IntegrityError as exc:
            session.rollback()
            raise Conflict("The request conflicts with data that already exists.") from exc
        except DataError as exc:
            # A value the database refuses to store; the fields' own rules should have
            # caught it first, so it is logged (without its parameters) to be fixed there.
            session.rollback()
            log.warning("database refused a value", extra={"error": type(exc.orig).__name__})
            raise Invalid("A value in this request cannot be stored.") from exc
        except BaseException:
            session.rollback()
            raise


SettingsDep = Annotated[Settings, Depends(get_settings)]
ClockDep = Annotated[Clock, Depends(get_clock)]
SessionDep = Annotated[Session, Depends(get_session, scope="function")]

_bearer = HTTPBearer(auto_error=False, description="An access token from /v1/auth/login.")


def get_current_user(
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


def get_current_couple(user: CurrentPartner, session: SessionDep) -> Couple:
    couple = couples_service.active_couple_of(session, user.id)
    if couple is None:
        raise NotFound("You are not in a couple yet; create an invite or join one.")
    return couple


CurrentCouple = Annotated[Couple, Depends(get_current_couple)]


def get_history_couple(user: CurrentPartner, session: SessionDep) -> Couple:
    """The active couple, or else the latest one: its history stays readable after it ends."""
    couple = couples_service.latest_couple_of(session, user.id)
    if couple is None:
        raise NotFound("You have not been in a couple yet.")
    return couple


HistoryCouple = Annotated[Couple, Depends(get_history_couple)]
