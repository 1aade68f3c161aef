"""Liveness and readiness: is the process up, and is its database reachable and migrated."""

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import SQLAlchemyError

from app import migrations

router = APIRouter(tags=["operations"])


class Health(BaseModel):
    status: str


class Readiness(BaseModel):
    status: str
    database: str
    migration: str | None
    expected_migration: str


@router.get("/healthz", operation_id="healthz", summary="The process is alive")
def healthz() -> Health:
    return Health(status="ok")


@router.get(
    "/readyz",
    operation_id="readyz",
    summary="The database is reachable and migrated to the latest revision",
    responses={503: {"model": Readiness, "description": "Not ready"}},
)
def readyz(request: Request) -> JSONResponse:
    head = migrations.head_revision()
    try:
        current = migrations.current_revision(request.app.state.engine)
    except SQLAlchemyError:
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
