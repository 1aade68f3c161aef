"""create_app(): routers, error handlers, middleware, and the scheduler's lifespan."""

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from sqlalchemy.engine import Engine

from app import hardening, scheduler
from app.accounts.router import auth_router, me_router
from app.bank.router import router as bank_router
from app.bids.router import router as bids_router
from app.clock import Clock, SystemClock
from app.coaching.dashboard import router as dashboard_router
from app.coaching.router import coach_router
from app.coaching.router import couple_router as consent_router
from app.config import Settings, get_settings
from app.couples.router import router as couples_router
from app.db import make_engine, make_session_factory
from app.errors import Problem, install_error_handlers, problem_response_doc
from app.health import router as health_router
from app.metrics import router as metrics_router
from app.nudges.router import router as nudges_router
from app.observability import RequestContextMiddleware, configure_logging

log = logging.getLogger(__name__)

API_DESCRIPTION = """\
Tend helps couples stay close through small, everyday gestures: partners log *bids for
connection*, see a shared relational bank account, get gentle nudges, and may let a coach
see their aggregate progress. Errors are RFC 9457 problem details.
"""


def create_app(
    settings: Settings | None = None,
    *,
    clock: Clock | None = None,
    engine: Engine | None = None,
) -> FastAPI:
    settings = settings or get_settings()
    engine = engine or make_engine(settings.database_url)
    clock = clock or SystemClock()
    session_factory = make_session_factory(engine)
    runtime = scheduler.Runtime(settings=settings, clock=clock, session_factory=session_factory)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if settings.generated_secret_key:
            log.warning("TEND_SECRET_KEY is not set: using a random key for this process only")
        background = None
        if settings.scheduler == "on":
            background = scheduler.background(runtime)
            background.start()
            log.info("scheduler started in-process")
        try:
            yield
        finally:
            if background is not None:
                background.shutdown(wait=False)

    docs = settings.serves_docs
    app = FastAPI(
        title="Tend API",
        version="1.0.0",
        description=API_DESCRIPTION,
        lifespan=lifespan,
        docs_url="/docs" if docs else None,
        redoc_url="/redoc" if docs else None,
        openapi_url="/openapi.json" if docs else None,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.session_factory = session_factory
    app.state.clock = clock
    app.state.runtime = runtime

    install_error_handlers(app)
    hardening.install(app, settings, outermost=[RequestContextMiddleware])
    routers = (
        health_router,
        metrics_router,
        auth_router,
        me_router,
        couples_router,
        bids_router,
        bank_router,
        nudges_router,
        coach_router,
        consent_router,
        dashboard_router,
    )
    for router in routers:
        app.include_router(router)
    _complete_openapi(app)
    return app


def _complete_openapi(app: FastAPI) -> None:
    """Name the shared Problem schema, and document the answers that middleware and
    dependencies give every route of a kind: 413 wherever a body is read, 401 wherever a
    token is required, 503 while the database is away."""
    original = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = original()
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            components.setdefault(
                "Problem", Problem.model_json_schema(ref_template="#/components/schemas/{model}")
            )
            for path, operation in _operations(schema):
                responses = operation.setdefault("responses", {})
                if "requestBody" in operation:
                    responses.setdefault("413", problem_response_doc(413))
                if operation.get("security"):
                    responses.setdefault("401", problem_response_doc(401))
                if path.startswith("/v1/"):
                    responses.setdefault("503", problem_response_doc(503))
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _operations(schema: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    methods = {"get", "put", "post", "delete", "patch", "head", "options"}
    return [
        (path, operation)
        for path, operations in schema.get("paths", {}).items()
        for method, operation in operations.items()
        if method in methods
    ]


def serve_app() -> FastAPI:
    """The factory uvicorn runs in each server process: logging first, then the app."""
    settings = get_settings()
    configure_logging(settings.log_level, settings.log_format)
    return create_app(settings)
