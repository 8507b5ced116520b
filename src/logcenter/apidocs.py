"""The API documentation pages, /docs (Swagger UI) and /redoc, served with no CDN.

FastAPI's own pages load Swagger UI and ReDoc from a CDN, so they are blank on an offline or air-gapped
server, which is where self-hosted error trackers often run. The `fastapi-offline` package bundles both
(Swagger UI 5, which renders FastAPI's OpenAPI 3.1): its files are served from /api/docs-assets.

Neither page asks anything of another site (Swagger UI's BaseLayout, FastAPI's, has no validator badge).
ReDoc's footer shows Redocly's logo from cdn.redoc.ly, which no option turns off: the bundle is served with
that address replaced by an empty image, so the page's Content-Security-Policy has nothing to refuse and the
browser's console stays clean.
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.staticfiles import StaticFiles
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

ASSETS = "/api/docs-assets"
REDOC_JS = "redoc.standalone.js"
REDOCLY_LOGO = b'"https://cdn.redoc.ly/redoc/logo-mini.svg"'
EMPTY_IMAGE = b'"data:image/gif;base64,R0lGODlhAQABAAAAACH5BAEKAAEALAAAAAABAAEAAAICTAEAOw=="'  # 1x1, clear


def _static() -> Path:
    return Path(str(files("fastapi_offline") / "static"))


@cache
def redoc_bundle() -> bytes:
    """ReDoc's standalone bundle with its footer's logo an empty image instead of Redocly's CDN."""
    return (_static() / REDOC_JS).read_bytes().replace(REDOCLY_LOGO, EMPTY_IMAGE)


def install(app: FastAPI) -> None:
    """Add /docs and /redoc (the app must be built with docs_url=None, redoc_url=None)."""
    openapi_url = app.openapi_url or "/openapi.json"

    @app.get(f"{ASSETS}/{REDOC_JS}", include_in_schema=False)  # before the mount, which would serve it
    def redoc_js() -> Response:
        return Response(redoc_bundle(), media_type="text/javascript; charset=utf-8")

    app.mount(ASSETS, StaticFiles(directory=_static()), name="docs-assets")

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
            redoc_js_url=f"{root}{ASSETS}/{REDOC_JS}",
            redoc_favicon_url=f"{root}{ASSETS}/favicon.png",
            with_google_fonts=False,
        )
        # Images from elsewhere are refused, should a newer bundle show another (the footer's logo is ours).
        page.headers["Content-Security-Policy"] = "img-src 'self' data:"
        return page
