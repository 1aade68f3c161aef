"""Request dependencies that know no domain: the session (one transaction per request), the
settings and the clock. Who is calling is in ``app.accounts.dependencies``, their couple in
``app.couples.dependencies``."""

import logging
from collections.abc import Callable, Iterator
from contextlib import nullcontext
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request
from sqlalchemy.exc import DataError, IntegrityError
from sqlalchemy.orm import Session

from app.clock import Clock
from app.config import Settings
from app.db import writing
from app.errors import Conflict, Invalid
from app.keystore import KeyStore

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


async def get_keys(request: Request) -> KeyStore:
    keys: KeyStore = request.app.state.keys
    return keys


async def get_client(request: Request) -> str:
    """Who is asking, for limits per client: the peer's address (behind a proxy, uvicorn's
    --proxy-headers and --forwarded-allow-ips make it the client's)."""
    return request.client.host if request.client else "unknown"


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
KeysDep = Annotated[KeyStore, Depends(get_keys)]
ClientDep = Annotated[str, Depends(get_client)]
SessionDep = Annotated[Session, Depends(get_session, scope="function")]
