"""The interactive API docs (/docs, /redoc) with their scripts served by Tend itself.

FastAPI's own pages load Swagger UI and ReDoc from a CDN, so they are blank offline or
behind a strict egress firewall. The same pages here point at the copies that the
``fastapi-offline`` package ships (pinned in the lock file), served under /docs/assets.
"""

from collections.abc import Callable
from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import FileResponse, HTMLResponse

ASSETS_URL = "/docs/assets"
ASSETS = Path(str(files("fastapi_offline") / "static"))
TITLE = "Tend API"
ASSET_FILES = {
    "swagger-ui-bundle.js": "text/javascript",
    "swagger-ui.css": "text/css",
    "redoc.standalone.js": "text/javascript",
    "favicon.png": "image/png",
}


def _asset(path: Path, media_type: str) -> Callable[[], FileResponse]:
    def serve() -> FileResponse:
        return FileResponse(path, media_type=media_type)

    return serve


def install(app: FastAPI) -> None:
    """Serve the docs pages and their assets; call only where the docs are on."""
    openapi_url = app.openapi_url or "/openapi.json"
    oauth2_redirect = "/docs/oauth2-redirect"
    # One route per file rather than a mounted directory: every path the app answers is a
    # route with methods, which the authorization matrix names (tests/test_authorization).
    for name, media_type in ASSET_FILES.items():
        app.add_api_route(
            f"{ASSETS_URL}/{name}",
            _asset(ASSETS / name, media_type),
            methods=["GET"],
            include_in_schema=False,
        )

    @app.get("/docs", include_in_schema=False)
    def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{TITLE} - Swagger UI",
            oauth2_redirect_url=oauth2_redirect,
            swagger_js_url=f"{ASSETS_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS_URL}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS_URL}/favicon.png",
        )

    @app.get(oauth2_redirect, include_in_schema=False)
    def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get("/redoc", include_in_schema=False)
    def redoc() -> HTMLResponse:
        return get_redoc_html(
            openapi_url=openapi_url,
            title=f"{TITLE} - ReDoc",
            redoc_js_url=f"{ASSETS_URL}/redoc.standalone.js",
            redoc_favicon_url=f"{ASSETS_URL}/favicon.png",
            with_google_fonts=False,
        )


def install_home(app: FastAPI, *, docs: bool) -> None:
    """``GET /``: where to go from here, for a person who opens the server's address."""

    @app.get("/", include_in_schema=False)
    def home() -> HTMLResponse:
        links = [("/coach", "The coach dashboard")]
        if docs:
            links = [("/docs", "API docs (Swagger UI)"), ("/redoc", "API docs (ReDoc)"), *links]
            links.append(("/openapi.json", "The OpenAPI document"))
        items = "".join(f'<li><a href="{href}">{label}</a></li>' for href, label in links)
        return HTMLResponse(
            "<!doctype html><html lang=en><head><meta charset=utf-8>"
            "<meta name=viewport content='width=device-width, initial-scale=1'>"
            f"<title>{TITLE}</title></head><body><h1>Tend</h1>"
            "<p>The backend of a phone app that helps couples stay close. "
            f"The phone app talks to the API under /v1.</p><ul>{items}</ul></body></html>"
        )
