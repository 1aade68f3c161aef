"""Every error Tend answers is an RFC 9457 problem detail (application/problem+json)."""

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import InterfaceError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.db import DatabaseBusy
from app.i18n import DEFAULT_LOCALE, N_, negotiate, words

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
PROBLEM_BASE = "urn:tend:problem:"


class FieldProblem(BaseModel):
    loc: list[str | int]
    msg: str
    type: str


class Problem(BaseModel):
    """RFC 9457 problem details, as documented in the OpenAPI schema."""

    type: str
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    errors: list[FieldProblem] | None = None


class AppError(Exception):
    status = 400
    slug = "bad-request"
    title = N_("Bad request")

    def __init__(self, detail: str | None = None, *, headers: dict[str, str] | None = None):
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.headers = headers or {}


class NotFound(AppError):
    status = 404
    slug = "not-found"
    title = N_("Not found")


class Unauthorized(AppError):
    status = 401
    slug = "unauthorized"
    title = N_("Authentication required")

    def __init__(self, detail: str | None = None):
        super().__init__(detail, headers={"WWW-Authenticate": "Bearer"})


class Forbidden(AppError):
    status = 403
    slug = "forbidden"
    title = N_("Forbidden")


class Conflict(AppError):
    status = 409
    slug = "conflict"
    title = N_("Conflict")


class Gone(AppError):
    status = 410
    slug = "gone"
    title = N_("Gone")


class Invalid(AppError):
    """Input that is well-formed but breaks a rule; names the field when there is one."""

    status = 422
    slug = "validation-error"
    title = N_("Invalid input")

    def __init__(self, detail: str, *, field: str | None = None):
        super().__init__(detail)
        self.field = field


class TooManyRequests(AppError):
    status = 429
    slug = "too-many-requests"
    title = N_("Too many requests")

    def __init__(self, detail: str, *, retry_after_seconds: int):
        retry_after_seconds = max(1, retry_after_seconds)
        super().__init__(detail, headers={"Retry-After": str(retry_after_seconds)})
        self.retry_after_seconds = retry_after_seconds


def locale_of(request: Request) -> str:
    """The caller's language: the signed-in user's locale (set by the current-user
    dependency), else the best match of Accept-Language."""
    return getattr(request.state, "locale", None) or negotiate(
        request.headers.get("accept-language")
    )


def problem_response(
    status: int,
    slug: str,
    title: str,
    detail: str | None = None,
    *,
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
    locale: str = DEFAULT_LOCALE,
) -> JSONResponse:
    """``title`` is the English title, its message id: it is answered in ``locale``; the
    ``type`` URI stays the same in every language."""
    headers = {**(headers or {}), "Content-Language": locale}
    title = words(locale).gettext(title)
    body: dict[str, Any] = {"type": PROBLEM_BASE + slug, "title": title, "status": status}
    if detail is not None:
        body["detail"] = detail
    if errors is not None:
        body["errors"] = errors
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_JSON)


_HTTP_SLUGS = {
    400: ("bad-request", N_("Bad request")),
    401: ("unauthorized", N_("Authentication required")),
    403: ("forbidden", N_("Forbidden")),
    404: ("not-found", N_("Not found")),
    405: ("method-not-allowed", N_("Method not allowed")),
    413: ("payload-too-large", N_("Payload too large")),
    415: ("unsupported-media-type", N_("Unsupported media type")),
}


def _field_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    errors = []
    for err in exc.errors():
        loc = [part for part in err.get("loc", ()) if isinstance(part, str | int)]
        # Never echo the rejected input back: it may be a password.
        errors.append({"loc": loc, "msg": str(err.get("msg", "")), "type": str(err.get("type"))})
    return errors


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(AppError)
    async def _app_error(request: Request, exc: AppError) -> JSONResponse:
        errors = None
        if isinstance(exc, Invalid) and exc.field:
            errors = [{"loc": ["body", exc.field], "msg": exc.detail, "type": "value_error"}]
        return problem_response(
            exc.status,
            exc.slug,
            exc.title,
            exc.detail,
            errors=errors,
            headers=exc.headers,
            locale=locale_of(request),
        )

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        locale = locale_of(request)
        errors = _field_errors(exc)
        if any(e["type"] == "json_invalid" for e in errors):
            return problem_response(
                400,
                "malformed-json",
                N_("Malformed JSON"),
                "The request body is not valid JSON.",
                locale=locale,
            )
        summary = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'][1:] or e['loc'])}: {e['msg']}" for e in errors
        )
        return problem_response(
            422,
            "validation-error",
            N_("Invalid input"),
            summary or "Invalid input.",
            errors=errors,
            locale=locale,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        slug, title = _HTTP_SLUGS.get(exc.status_code, ("http-error", N_("HTTP error")))
        detail = exc.detail if isinstance(exc.detail, str) else None
        return problem_response(
            exc.status_code,
            slug,
            title,
            detail,
            headers=getattr(exc, "headers", None),
            locale=locale_of(request),
        )

    @app.exception_handler(OperationalError)
    @app.exception_handler(InterfaceError)
    @app.exception_handler(DatabaseBusy)
    async def _database_unavailable(request: Request, exc: Exception) -> JSONResponse:
        # The database is restarting, failing over or busy: nothing was written, and the
        # same request (bids carry their own id) can simply be sent again.
        log.warning(
            "database unavailable",
            extra={"path": request.url.path, "error": type(getattr(exc, "orig", exc)).__name__},
        )
        return problem_response(
            503,
            "service-unavailable",
            N_("Service unavailable"),
            "The service is briefly unavailable; try again shortly.",
            headers={"Retry-After": "1"},
            locale=locale_of(request),
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", extra={"path": request.url.path})
        return problem_response(
            500,
            "internal-error",
            N_("Internal server error"),
            "Something went wrong on our side.",
            locale=locale_of(request),
        )


_DESCRIPTIONS = {
    400: "Malformed request (for example a body that is not JSON)",
    401: "Missing, invalid or expired credentials",
    403: "The caller's role may not do this",
    404: "No such resource, or not visible to the caller",
    409: "Conflicts with the current state",
    410: "No longer available",
    413: "Request body too large",
    422: "Invalid input; `errors` lists the fields",
    429: "Too many attempts or requests at once; see Retry-After",
    503: "Briefly unavailable (database away, or too many waiting); retry after Retry-After",
}


def problem_response_doc(status: int) -> dict[str, Any]:
    """The OpenAPI response object of a problem+json answer."""
    return {
        "description": _DESCRIPTIONS.get(status, "Error"),
        "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the problem+json answers a route can give (400 and 422 always)."""
    codes = sorted({400, 422, *statuses})
    return {code: {"model": Problem, **problem_response_doc(code)} for code in codes}
