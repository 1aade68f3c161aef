"""create_app(): routers, error handlers, middleware, and the scheduler's lifespan."""

import copy
import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio.to_thread
from fastapi import FastAPI
from sqlalchemy.engine import Engine

from app import apidocs, hardening, migrations, scheduler
from app.accounts.router import auth_router, me_router
from app.admission import AdmissionMiddleware, Limits
from app.bank.router import router as bank_router
from app.bids.router import router as bids_router
from app.care.router import couple_router as care_couple_router
from app.care.router import me_router as care_router
from app.clock import Clock, SystemClock
from app.coaching.dashboard import router as dashboard_router
from app.coaching.router import coach_router
from app.coaching.router import couple_router as consent_router
from app.config import Settings, get_settings
from app.couples.router import router as couples_router
from app.db import make_session_factory, settings_engine
from app.errors import (
    PROBLEM_BASE,
    PROBLEM_JSON,
    Problem,
    install_error_handlers,
    problem_response_doc,
)
from app.fields import BodyExample, StrictInput
from app.hardening import LARGER_BODIES
from app.health import router as health_router
from app.keystore import KeyStore
from app.lifecycle import router as lifecycle
from app.metrics import router as metrics_router
from app.nudges.router import router as nudges_router
from app.observability import RequestContextMiddleware, configure_logging
from app.pagination import MAX_LIMIT
from app.practices.router import router as practices_router
from app.stats.router import router as stats_router
from app.sync.router import router as sync_router

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
    engine = engine or settings_engine(settings)
    clock = clock or SystemClock()
    session_factory = make_session_factory(engine)
    # Read the migration scripts now, not in the first /readyz, which must answer fast.
    migrations.head_revision()
    keys = KeyStore.from_settings(settings)
    keys.ensure_schema()
    runtime = scheduler.Runtime(
        settings=settings, clock=clock, session_factory=session_factory, key_store=keys
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if settings.generated_secret_key:
            log.warning("TEND_SECRET_KEY is not set: using a random key for this process only")
        if settings.generated_data_key:
            log.warning(
                "TEND_DATA_KEY is not set: care data is sealed with a random key for this "
                "process only and cannot be opened after a restart"
            )
        # The pool every plain `def` dependency and endpoint runs on; admission keeps the
        # requests inside below it (app.admission).
        anyio.to_thread.current_default_thread_limiter().total_tokens = settings.thread_pool_size
        for warning in settings.mail_warnings:
            log.warning(warning)
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
        docs_url=None,  # app.apidocs serves them, with their scripts
        redoc_url=None,
        openapi_url="/openapi.json" if docs else None,
    )
    if docs:
        apidocs.install(app)
    apidocs.install_home(app, docs=docs)
    app.state.settings = settings
    app.state.engine = engine
    app.state.session_factory = session_factory
    app.state.clock = clock
    app.state.keys = keys
    app.state.runtime = runtime

    install_error_handlers(app)
    hardening.install(app, settings, outermost=[RequestContextMiddleware])
    # Outside every other middleware of the app, so a request refused or waiting costs
    # nothing but its place in the line.
    app.add_middleware(
        AdmissionMiddleware,
        limits=Limits(
            in_flight=settings.admission_in_flight,
            queue=settings.admission_queue,
            account_in_flight=settings.admission_account_in_flight,
            account_queue=settings.admission_account_queue,
            wait_seconds=settings.admission_wait_seconds,
        ),
        secret_key=settings.secret_key,
        now=clock.now,
        one_writer=engine.dialect.name == "sqlite",
    )
    routers = (
        health_router,
        metrics_router,
        # A resource's routes that span domains come from app.lifecycle, beside its own.
        lifecycle.auth_router,
        auth_router,
        me_router,
        lifecycle.me_router,
        couples_router,
        lifecycle.couple_router,
        bids_router,
        bank_router,
        stats_router,
        practices_router,
        nudges_router,
        care_router,
        care_couple_router,
        sync_router,
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
    token is required (and 429 beyond an account's share of admission's line), 503 while
    the database is away or the line is full. Every error is documented as
    problem+json only; request bodies get their model's examples, and the problems whose
    words do not depend on the operation an example each. Generic models' schemas take the
    names their classes give them, and answer fields typed looser than what the server
    sends are documented exactly."""
    original = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = original()
            components = schema.setdefault("components", {})
            schemas = components.setdefault("schemas", {})
            schemas.setdefault(
                "Problem", Problem.model_json_schema(ref_template="#/components/schemas/{model}")
            )
            body_examples = _request_body_examples()
            for path, operation in _operations(schema):
                responses = operation.setdefault("responses", {})
                body = operation.get("requestBody", {}).get("content", {}).get(_JSON)
                if body is not None:
                    _add_body_examples(body, body_examples)
                    responses.setdefault("400", problem_response_doc(400))
                    responses.setdefault("413", problem_response_doc(413))
                if operation.get("security"):
                    responses.setdefault("401", problem_response_doc(401))
                    if path.startswith("/v1/"):  # one account's share of admission's line
                        responses.setdefault("429", problem_response_doc(429))
                if path.startswith("/v1/"):
                    responses.setdefault("503", problem_response_doc(503))
                _problems_only(responses)
                # A route with a body limit of its own says it in its 413's own words.
                _add_problem_examples(operation, responses, own_body_limit=path in LARGER_BODIES)
            _drop_unused_validation_schemas(schema)
            _rewrite_refs(schema, _name_generic_schemas(schemas))
            components["schemas"] = dict(sorted(schemas.items()))
            limit = app.state.settings.max_body_bytes
            examples = {**PROBLEM_EXAMPLES, "payload-too-large": _too_large_example(limit)}
            components["examples"] = dict(sorted(examples.items()))
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


_JSON = "application/json"
_VALIDATION_SCHEMAS = ("HTTPValidationError", "ValidationError")


def _operations(schema: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    methods = {"get", "put", "post", "delete", "patch", "head", "options"}
    return [
        (path, operation)
        for path, operations in schema.get("paths", {}).items()
        for method, operation in operations.items()
        if method in methods
    ]


def _request_body_examples() -> dict[str, dict[str, BodyExample]]:
    """The named examples of every request body model, by its schema's name."""
    found: dict[str, dict[str, BodyExample]] = {}
    pending: list[type[StrictInput]] = [StrictInput]
    while pending:
        model = pending.pop()
        pending.extend(model.__subclasses__())
        if model.openapi_examples:
            found[model.__name__] = model.openapi_examples
    return found


def _add_body_examples(body: dict[str, Any], examples: dict[str, dict[str, BodyExample]]) -> None:
    # OpenAPI's named examples of the media type, which Swagger UI offers in a list.
    name = body.get("schema", {}).get("$ref", "").rpartition("/")[2]
    if name in examples and "examples" not in body:
        body["examples"] = copy.deepcopy(examples[name])


def _problems_only(responses: dict[str, Any]) -> None:
    """Errors are answered as application/problem+json only: drop the application/json
    twin that a response model adds, and stand in for FastAPI's own 422 schema."""
    for status, response in responses.items():
        if status[:1] not in ("4", "5"):
            continue
        content = response.get("content", {})
        if PROBLEM_JSON in content:
            response["content"] = {PROBLEM_JSON: content[PROBLEM_JSON]}
        elif status == "422":
            responses[status] = problem_response_doc(422)


def _add_problem_examples(
    operation: dict[str, Any], responses: dict[str, Any], *, own_body_limit: bool
) -> None:
    for status, response in responses.items():
        media = response.get("content", {}).get(PROBLEM_JSON)
        names = (
            [] if status == "413" and own_body_limit else _problem_examples_of(operation, status)
        )
        if media is not None and names:
            media.setdefault(
                "examples", {name: {"$ref": f"#/components/examples/{name}"} for name in names}
            )


def _problem_examples_of(operation: dict[str, Any], status: str) -> list[str]:
    """Examples of the problems this operation answers in the same words as any other of
    its kind; those whose detail depends on the operation (403, 404, 409, …) have none."""
    body = "requestBody" in operation
    parameters = {p.get("name") for p in operation.get("parameters", [])}
    kinds = {
        "400": [("malformed-json", body), ("invalid-cursor", "cursor" in parameters)],
        "401": [("unauthorized", bool(operation.get("security")))],
        "413": [("payload-too-large", body)],
        "422": [("unknown-field", body), ("limit-too-large", "limit" in parameters)],
        "503": [("service-unavailable", True)],
    }
    return [name for name, applies in kinds.get(status, []) if applies]


def _drop_unused_validation_schemas(schema: dict[str, Any]) -> None:
    """FastAPI's own 422 schemas, once no response refers to them any more."""
    paths = json.dumps(schema["paths"])
    if not any(f'"#/components/schemas/{name}"' in paths for name in _VALIDATION_SCHEMAS):
        for name in _VALIDATION_SCHEMAS:
            schema["components"]["schemas"].pop(name, None)


def _name_generic_schemas(schemas: dict[str, Any]) -> dict[str, str]:
    """Pydantic names a parametrized generic model's schema after its origin and arguments,
    brackets made underscores (``Page_BidPublic_``); name it by its title instead, the name
    its class gives it (``BidPage``, see ``Page.model_parametrized_name``). Returns each
    renamed schema's reference and its new one."""
    renamed = {
        name: body["title"]
        for name, body in schemas.items()
        if "_" in name and str(body.get("title", "")).isidentifier()
    }
    taken = set(schemas) - set(renamed)
    if len(set(renamed.values()) - taken) < len(renamed):
        raise RuntimeError(f"generic schemas would share a name: {renamed}")
    for old, new in renamed.items():
        schemas[new] = schemas.pop(old)
    return {
        f"#/components/schemas/{old}": f"#/components/schemas/{new}" for old, new in renamed.items()
    }


def _rewrite_refs(node: object, refs: dict[str, str]) -> None:
    if isinstance(node, dict):
        if node.get("$ref") in refs:
            node["$ref"] = refs[node["$ref"]]
        for value in node.values():
            _rewrite_refs(value, refs)
    elif isinstance(node, list):
        for value in node:
            _rewrite_refs(value, refs)


def _problem(summary: str, slug: str, title: str, status: int, detail: str) -> dict[str, Any]:
    value = {"type": PROBLEM_BASE + slug, "title": title, "status": status, "detail": detail}
    return {"summary": summary, "value": value}


def _invalid(summary: str, loc: list[str], msg: str, kind: str) -> dict[str, Any]:
    example = _problem(summary, "validation-error", "Invalid input", 422, f"{loc[-1]}: {msg}")
    example["value"]["errors"] = [{"loc": loc, "msg": msg, "type": kind}]
    return example


def _too_large_example(limit: int) -> dict[str, Any]:
    detail = f"The request body is larger than {limit} bytes."
    return _problem(
        "A body over the size limit", "payload-too-large", "Payload too large", 413, detail
    )


# What the API answers, word for word, for problems that any operation of a kind can give;
# each such answer in the document refers to its example (413's depends on the settings).
PROBLEM_EXAMPLES: dict[str, dict[str, Any]] = {
    "malformed-json": _problem(
        "A body that is not JSON",
        "malformed-json",
        "Malformed JSON",
        400,
        "The request body is not valid JSON.",
    ),
    "invalid-cursor": _problem(
        "A cursor this API did not give out",
        "invalid-cursor",
        "Invalid cursor",
        400,
        "The cursor is not one this API gave out.",
    ),
    "unauthorized": _problem(
        "An access token that is invalid or has expired",
        "unauthorized",
        "Authentication required",
        401,
        "The access token is invalid or has expired.",
    ),
    "unknown-field": _invalid(
        "A field the body does not have",
        ["body", "nickname"],
        "Extra inputs are not permitted",
        "extra_forbidden",
    ),
    "limit-too-large": _invalid(
        f"A page larger than {MAX_LIMIT} items",
        ["query", "limit"],
        f"Input should be less than or equal to {MAX_LIMIT}",
        "less_than_equal",
    ),
    "service-unavailable": _problem(
        "The database is briefly away",
        "service-unavailable",
        "Service unavailable",
        503,
        "The service is briefly unavailable; try again shortly.",
    ),
}


def serve_app() -> FastAPI:
    """The factory uvicorn runs in each server process: logging first, then the app."""
    settings = get_settings()
    configure_logging(settings.log_level, settings.log_format)
    return create_app(settings)
