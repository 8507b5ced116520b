"""The ASGI application: `create_app(settings)` wires routers, error handlers and the ingest writer."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import structlog
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response
from starlette.routing import Match, Route
from starlette.types import Receive, Scope, Send

from logcenter import __version__, apidocs
from logcenter.automerge.routes import router as automerge_router
from logcenter.bugs.routes import router as bugs_router
from logcenter.config import Settings, get_settings
from logcenter.db import create_db_engine, create_session_factory
from logcenter.errors import LogCenterError
from logcenter.ingest import routes as ingest_routes
from logcenter.ingest.channel import RemoteWriter
from logcenter.ingest.keys import ProjectKeys
from logcenter.ingest.scrubbers import ProjectScrubbers
from logcenter.ingest.sentry import routes as sentry_routes
from logcenter.ingest.writer_process import WriterThread, new_committer
from logcenter.jobs.worker import Worker
from logcenter.logs import configure_logging
from logcenter.notify.inbox_routes import router as inbox_router
from logcenter.notify.routes import router as notify_router
from logcenter.nul import no_nul
from logcenter.process import settle_heap
from logcenter.projects import scrubbing as project_scrubbing
from logcenter.projects.routes import router as projects_router
from logcenter.repair.routes import router as repair_router
from logcenter.reviews.routes import router as reviews_router
from logcenter.revisions.routes import router as revisions_router
from logcenter.sourcemaps.routes import router as sourcemaps_router
from logcenter.stats.routes import router as stats_router
from logcenter.triage.routes import router as triage_router
from logcenter.users import service as users_service
from logcenter.validation import to_failure
from logcenter.web import install as install_web
from logcenter.webhooks.routes import router as webhooks_router

log = structlog.get_logger(__name__)


class LogCenterApp(FastAPI):
    """FastAPI, with POSTs to the ingest routes served ahead of its middleware stack.

    Reports arrive thousands of times a second, and FastAPI's stack (error middlewares, telemetry hooks, body
    limit, exit stack, router, request wrapper) costs more per request than the REST ingest route's own work
    (bench/http_path.py measures the request half). So POSTs that match an ingest route (plain Starlette
    routes: ingest/routes.py, ingest/sentry/routes.py) are called from here, and their errors answered by the
    app's own exception handlers; every other request, including the ingest routes' CORS preflights, goes
    through FastAPI. Middleware added to the app and FastAPI's OpenTelemetry spans do not see these POSTs;
    the routes set their own CORS headers.
    """

    def __init__(self, *, ingest: list[Route], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._ingest = [route for route in ingest if route.methods and "POST" in route.methods]
        self.router.routes[:0] = ingest  # still listed in the router: OPTIONS, url_path_for, the schema

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            for route in self._ingest:
                match, child_scope = route.matches(scope)
                if match is Match.FULL:
                    scope.update(child_scope)
                    scope["app"] = self
                    await self._ingest_request(route, scope, receive, send)
                    return
        await super().__call__(scope, receive, send)

    async def _ingest_request(self, route: Route, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive, send)
        try:
            response = await route.endpoint(request)
        except Exception as exc:
            response = await self._handle(request, exc)
        await response(scope, receive, send)

    async def _handle(self, request: Request, exc: Exception) -> Response:
        """The answer the app's exception handlers give (the most specific class registered wins)."""
        for cls in type(exc).__mro__:
            handler = self.exception_handlers.get(cls)
            if handler is not None:  # all of this app's handlers are coroutines (_install_error_handlers)
                response: Response = await handler(request, exc)  # type: ignore[misc]
                return response
        raise exc  # not reached: there is a handler for Exception


def create_app(settings: Settings | None = None) -> FastAPI:
    if settings is None:  # a worker process started by `logcenter serve --workers N`
        settings = get_settings()
        configure_logging(settings.log_level)
    engine = create_db_engine(settings.database_url, pool_size=settings.database_pool_size)
    session_factory = create_session_factory(engine)
    users_service.configure_passwords(settings)  # the web UI's logins hash with the settings' argon2 cost

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # `logcenter serve` runs the writer in a process of its own for all its HTTP workers; an app run on
        # its own (tests, `uvicorn logcenter.main:create_app`) runs the same writer on a thread.
        host: WriterThread | None = None
        path = settings.writer_socket
        if path is None:
            host = WriterThread(new_committer(settings, session_factory), settings)
            await run_in_threadpool(host.start)
            path = host.path
        writer = RemoteWriter(path)
        app.state.writer = writer
        await writer.start()
        # Under `logcenter serve` (writer_socket set) its parent process runs the one job worker of the
        # server; an app run on its own runs its own, as it runs its own writer.
        jobs: Worker | None = None
        if settings.job_worker and not settings.writer_socket:
            jobs = Worker(session_factory, settings)
            jobs.start()
        app.state.jobs = jobs
        if settings.writer_socket:  # a worker of `logcenter serve`: this process only serves this app
            settle_heap()  # what start-up built lives as long as the process (logcenter/process.py)
        try:
            yield
        finally:
            if jobs is not None:
                await run_in_threadpool(jobs.stop)
            await writer.stop()
            if host is not None:
                await run_in_threadpool(host.stop)
            engine.dispose()

    app = LogCenterApp(
        ingest=[*ingest_routes.routes, *sentry_routes.routes],
        title="Log Center",
        version=__version__,
        description="Self-hosted error tracker with human-reviewed automatic bug fixing.",
        lifespan=lifespan,
        docs_url=None,  # served by apidocs, without a CDN
        redoc_url=None,
        dependencies=[Depends(no_nul)],  # every API route and page (the ingest routes have their own rules)
    )
    apidocs.install(app)
    app.state.settings = settings
    # Each project's scrubbing rules on top of the server's, for the ingest paths (ingest/scrubbers.py).
    app.state.scrubbers = ProjectScrubbers(
        session_factory, settings.scrub_rules, allow_off=project_scrubbing.off_allowed(settings)
    )
    app.state.scrubber = app.state.scrubbers.server
    app.state.engine = engine
    app.state.session_factory = session_factory
    app.state.project_keys = ProjectKeys(session_factory)
    _install_error_handlers(app)
    # reviews_router before bugs_router: POST /api/v1/bugs/merge is not a bug id.
    for router in (
        projects_router,
        reviews_router,
        revisions_router,
        bugs_router,
        triage_router,
        repair_router,
        stats_router,
        webhooks_router,
        sourcemaps_router,
        notify_router,
        automerge_router,
        inbox_router,
    ):
        app.include_router(router)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    install_web(app)  # pages at /, after the API's routes and error handlers

    @app.get(
        "/api/health",
        tags=["meta"],
        summary="Health: the database answers and the ingest writer runs",
        responses={503: {"description": "The database or the ingest writer is down"}},
    )
    async def health() -> JSONResponse:
        """For load balancers and service managers: 200 when this server can take reports, else 503."""
        writer = getattr(app.state, "writer", None)
        checks = {
            "database": await run_in_threadpool(_database_answers, app),
            "writer": writer is not None and await writer.alive(),
        }
        healthy = all(checks.values())
        body = {"status": "ok" if healthy else "unavailable", "version": __version__}
        body.update({name: "ok" if ok else "down" for name, ok in checks.items()})
        return JSONResponse(body, status_code=200 if healthy else 503)

    return app


def _database_answers(app: FastAPI) -> bool:
    try:
        with app.state.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return True
    except Exception:
        log.warning("health.database_down", exc_info=True)
        return False


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(LogCenterError)
    async def _domain_error(_: Request, exc: LogCenterError) -> JSONResponse:
        return JSONResponse(exc.body(), status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        failure = to_failure(exc.errors())
        return JSONResponse(failure.body(), status_code=failure.status_code)

    @app.exception_handler(IntegrityError)
    async def _integrity_error(request: Request, exc: IntegrityError) -> JSONResponse:
        # A concurrent request changed the same rows first (e.g. created the same project): retryable.
        log.warning("http.integrity_error", path=request.url.path, error=str(exc.orig)[:200])
        return JSONResponse({"detail": "Conflicting concurrent change; retry the request"}, status_code=409)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.error("http.unhandled", path=request.url.path, exc_info=exc)
        return JSONResponse({"detail": "Internal server error"}, status_code=500)


def _openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's schema; the ingest POSTs, plain Starlette routes (LogCenterApp), are documented by FastAPI
    routes of their own that are never mounted, from the same pydantic schemas."""
    if not app.openapi_schema:
        routes = [*ingest_routes.docs.routes, *sentry_routes.docs.routes, *app.routes]
        app.openapi_schema = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=routes
        )
    return app.openapi_schema
