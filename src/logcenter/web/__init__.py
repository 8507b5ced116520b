"""The web UI: server-rendered pages (Jinja2 + HTMX) at `/`, served by the same app as the JSON API.

`install(app)` adds the pages, the static files and the pieces every page needs: the reader's language, the
security headers, and errors answered as HTML pages (or a redirect to the login) instead of JSON.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from logcenter.errors import LogCenterError
from logcenter.web import (
    admin_routes,
    auth_routes,
    board_routes,
    bug_routes,
    i18n,
    messages,
    notify_routes,
    triage_routes,
)
from logcenter.web.assets import StaticFiles
from logcenter.web.security import SECURITY_HEADERS, LoginLimiter, LoginRequired
from logcenter.web.templating import STATIC, render

API_PREFIXES = ("/api", "/docs", "/redoc", "/openapi.json")


def is_web_path(path: str) -> bool:
    return not path.startswith(API_PREFIXES)


class WebMiddleware:
    """For page requests: pick the reader's language and add the security headers to the answer."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not is_web_path(scope["path"]):
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        i18n.activate(
            i18n.negotiate(request.cookies.get(i18n.COOKIE), request.headers.get("accept-language"))
        )

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers.setdefault(name, value)
                headers.setdefault("Vary", "Cookie, Accept-Language")
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _error_page(
    request: Request, status: int, message: str, headers: dict[str, str] | None = None
) -> Response:
    if request.headers.get("hx-request"):  # shown in the page's notice area by static/app.js
        return HTMLResponse(
            render(request, "error_fragment.html", status_code=status, message=message).body,
            status_code=status,
            headers=headers,
        )
    response = render(request, "error.html", status_code=status, code=status, message=message)
    if headers:
        response.headers.update(headers)
    return response


def install(app: FastAPI) -> None:
    """Add the web UI to the app (after the API's routes and error handlers)."""
    app.state.login_limiter = LoginLimiter()
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> Response:
        """Where browsers look for an icon when a page names none (the API docs, a JSON answer)."""
        return RedirectResponse("/static/favicon.svg", status_code=301)  # unversioned: it is permanent

    # triage_routes before bug_routes: GET /bugs/merge-duplicates is not a bug id.
    for module in (auth_routes, board_routes, triage_routes, bug_routes, admin_routes, notify_routes):
        app.include_router(module.router)
    app.add_middleware(WebMiddleware)

    api_domain_error = app.exception_handlers[LogCenterError]
    api_validation_error = app.exception_handlers[RequestValidationError]

    async def domain_error(request: Request, exc: Exception) -> Response:
        if not is_web_path(request.url.path):
            return await api_domain_error(request, exc)  # type: ignore[misc]
        assert isinstance(exc, LogCenterError)
        if isinstance(exc, LoginRequired):
            target = "/login?next=" + _quote(
                request.url.path + ("?" + request.url.query if request.url.query else "")
            )
            if request.headers.get("hx-request"):
                return Response(status_code=204, headers={"HX-Redirect": target})
            return RedirectResponse(target, status_code=303)
        return _error_page(request, exc.status_code, messages.error_message(exc), exc.headers)

    async def validation_error(request: Request, exc: Exception) -> Response:
        if not is_web_path(request.url.path):
            return await api_validation_error(request, exc)  # type: ignore[misc]
        assert isinstance(exc, RequestValidationError)
        problems = messages.pydantic_errors(exc.errors()).values()
        return _error_page(request, 422, messages.invalid_request(problems))

    api_http_error = app.exception_handlers[StarletteHTTPException]

    async def http_error(request: Request, exc: Exception) -> Response:
        """No route for the address (404) or the method (405): the UI's error page, not the API's JSON."""
        if not is_web_path(request.url.path):
            return await api_http_error(request, exc)  # type: ignore[misc]
        assert isinstance(exc, StarletteHTTPException)
        texts = {
            404: i18n.gettext("No page at this address."),
            405: i18n.gettext("This page cannot be opened this way."),
        }
        message = texts.get(exc.status_code, str(exc.detail))
        return _error_page(request, exc.status_code, message, dict(exc.headers or {}))

    app.add_exception_handler(LogCenterError, domain_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)


def _quote(path: str) -> str:
    from urllib.parse import quote

    return quote(path, safe="/")
