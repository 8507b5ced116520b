"""The API documentation pages, /docs (Swagger UI) and /redoc, served with no CDN.

FastAPI's own pages load Swagger UI and ReDoc from a CDN, so they are blank on an offline or air-gapped
server, which is where self-hosted error trackers often run. The `fastapi-offline` package bundles both
(Swagger UI 5, which renders FastAPI's OpenAPI 3.1): its files are served from /api/docs-assets.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.staticfiles import StaticFiles
from starlette.requests import Request
from starlette.responses import HTMLResponse

ASSETS = "/api/docs-assets"


def install(app: FastAPI) -> None:
    """Add /docs and /redoc (the app must be built with docs_url=None, redoc_url=None)."""
    static = Path(str(files("fastapi_offline") / "static"))
    app.mount(ASSETS, StaticFiles(directory=static), name="docs-assets")
    openapi_url = app.openapi_url or "/openapi.json"

    @app.get("/docs", include_in_schema=False)
    def swagger(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_swagger_ui_html(
            openapi_url=f"{root}{openapi_url}",
            title=f"{app.title} - API",
            swagger_js_url=f"{root}{ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{root}{ASSETS}/favicon.png",
        )

    @app.get("/redoc", include_in_schema=False)
    def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        page = get_redoc_html(
            openapi_url=f"{root}{openapi_url}",
            title=f"{app.title} - API",
            redoc_js_url=f"{root}{ASSETS}/redoc.standalone.js",
            redoc_favicon_url=f"{root}{ASSETS}/favicon.png",
            with_google_fonts=False,
        )
        # ReDoc's footer shows Redocly's logo from its CDN; images from elsewhere are refused, so the page
        # asks nothing of the outside world.
        page.headers["Content-Security-Policy"] = "img-src 'self' data:"
        return page
