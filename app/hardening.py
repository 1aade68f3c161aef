"""HTTP hardening around every request: a body size limit, security headers and CORS.

Pure ASGI middleware, so a request over the limit is refused before any route reads it.
"""

from typing import Any

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.config import Environment, Settings
from app.errors import problem_response

# Swagger UI and ReDoc run inline scripts (app.apidocs); every other answer is JSON or a
# page that sets its own policy, so the strict default fits them.
DOCS_PAGES = frozenset({"/docs", "/docs/oauth2-redirect", "/redoc"})
_API_POLICY = "default-src 'none'; frame-ancestors 'none'"
_HSTS = "max-age=63072000; includeSubDomains"


def _detail(limit: int) -> str:
    return f"The request body is larger than {limit} bytes."


class BodyTooLarge(HTTPException):
    """An HTTP error, so that FastAPI's body reader passes it on to the problem+json
    handler instead of turning it into a 400."""

    def __init__(self, limit: int) -> None:
        super().__init__(status_code=413, detail=_detail(limit))


def _too_large(limit: int) -> JSONResponse:
    return problem_response(413, "payload-too-large", "Payload too large", _detail(limit))


class BodySizeLimitMiddleware:
    """Refuse bodies over ``limit`` bytes with 413: by Content-Length when it is sent, and
    by counting while reading when it is not (chunked uploads cannot slip past)."""

    def __init__(self, app: ASGIApp, *, limit: int, larger: dict[str, int] | None = None) -> None:
        self.app = app
        self.default_limit = limit
        self.larger = larger or {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.larger.get(scope.get("path", ""), self.default_limit)
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            await _too_large(limit)(scope, receive, send)
            return

        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except BodyTooLarge:
            if started:
                raise
            await _too_large(limit)(scope, receive, send)


class SecurityHeadersMiddleware:
    """Headers that keep browsers and caches from misusing an answer about a couple."""

    def __init__(self, app: ASGIApp, *, hsts: bool, docs_pages: frozenset[str]) -> None:
        self.app = app
        self.hsts = hsts
        self.docs_pages = docs_pages

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        docs = scope.get("path") in self.docs_pages

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers") or [])
                present = {name.lower() for name, _ in headers}
                wanted = [
                    (b"x-content-type-options", b"nosniff"),
                    (b"x-frame-options", b"DENY"),
                    (b"referrer-policy", b"no-referrer"),
                    (b"cross-origin-opener-policy", b"same-origin"),
                    # Answers describe a couple: no shared or browser cache keeps them.
                    (b"cache-control", b"no-store"),
                ]
                if not docs:
                    wanted.append((b"content-security-policy", _API_POLICY.encode()))
                if self.hsts:
                    wanted.append((b"strict-transport-security", _HSTS.encode()))
                headers += [(name, value) for name, value in wanted if name not in present]
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


# Routes whose bodies may be larger than TEND_MAX_BODY_BYTES, and the setting of their limit.
LARGER_BODIES = {"/v1/sync": "sync_max_body_bytes"}


def install(app: FastAPI, settings: Settings, *, outermost: list[type[Any]]) -> None:
    """Add the middleware. The security headers (and the ``outermost`` ones, such as the
    request log) wrap the whole stack, Starlette's 500 handler included, so even an
    unexpected error carries them; CORS wraps the size limit, so a browser can read a 413."""
    app.add_middleware(
        BodySizeLimitMiddleware,
        limit=settings.max_body_bytes,
        larger={path: getattr(settings, name) for path, name in LARGER_BODIES.items()},
    )
    origins = settings.cors_origin_list
    if origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=origins,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "X-Request-Id"],
            expose_headers=["Retry-After", "X-Request-Id", "Location"],
            max_age=600,
        )
    build_inner_stack = app.build_middleware_stack

    def build_middleware_stack() -> ASGIApp:
        stack: ASGIApp = SecurityHeadersMiddleware(
            build_inner_stack(),
            hsts=settings.env == Environment.production,
            docs_pages=DOCS_PAGES if settings.serves_docs else frozenset(),
        )
        for middleware in reversed(outermost):
            stack = middleware(stack)
        return stack

    app.build_middleware_stack = build_middleware_stack  # type: ignore[method-assign]
