"""Liveness and readiness: is the process up, and is its database reachable and migrated.

Both answer from the event loop: they never wait for the request threads, a database lock
or a place in admission's line (app.admission). Readiness asks the database on a thread
of its own, and gives up after TEND_READYZ_TIMEOUT_SECONDS.
"""

import anyio
import anyio.to_thread
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import SQLAlchemyError

from app import migrations

router = APIRouter(tags=["operations"])
# Threads for readiness checks, apart from the pool the requests run on.
_READINESS_THREADS = 2


class Health(BaseModel):
    status: str


class Readiness(BaseModel):
    status: str
    database: str
    migration: str | None
    expected_migration: str


@router.get("/healthz", operation_id="healthz", summary="The process is alive")
async def healthz() -> Health:
    return Health(status="ok")


@router.get(
    "/readyz",
    operation_id="readyz",
    summary="The database is reachable and migrated to the latest revision",
    responses={503: {"model": Readiness, "description": "Not ready"}},
)
async def readyz(request: Request) -> JSONResponse:
    state = request.app.state
    if not hasattr(state, "readiness_threads"):
        state.readiness_threads = anyio.CapacityLimiter(_READINESS_THREADS)
    head = migrations.head_revision()  # read at start (create_app), cached since
    current: str | None = None
    reached = False
    with anyio.move_on_after(state.settings.readyz_timeout_seconds):
        try:
            current = await anyio.to_thread.run_sync(
                migrations.current_revision,
                state.engine,
                limiter=state.readiness_threads,
                abandon_on_cancel=True,
            )
            reached = True
        except SQLAlchemyError:
            pass
    if not reached:
        body = Readiness(
            status="unavailable", database="unreachable", migration=None, expected_migration=head
        )
        return JSONResponse(body.model_dump(), status_code=503)
    ready = current == head
    body = Readiness(
        status="ok" if ready else "unavailable",
        database="ok",
        migration=current,
        expected_migration=head,
    )
    return JSONResponse(body.model_dump(), status_code=200 if ready else 503)
