"""The ASGI application: `create_app(settings)` wires routers, error handlers and the ingest writer."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import IntegrityError

from logcenter import __version__
from logcenter.bugs.routes import router as bugs_router
from logcenter.config import Settings, get_settings
from logcenter.db import create_db_engine, create_session_factory, session_scope
from logcenter.errors import LogCenterError
from logcenter.ingest import routes as ingest_routes
from logcenter.ingest.channel import RemoteWriter
from logcenter.ingest.sentry import routes as sentry_routes
from logcenter.ingest.writer import BatchCommitter, GroupCommitWriter
from logcenter.logs import configure_logging
from logcenter.process import settle_heap
from logcenter.projects.routes import router as projects_router
from logcenter.repair import service as repair_service
from logcenter.repair.routes import router as repair_router
from logcenter.stats.routes import router as stats_router
from logcenter.validation import to_failure

log = structlog.get_logger(__name__)


def create_app(settings: Settings | None = None) -> FastAPI:
    if settings is None:  # a worker process started by `logcenter serve --workers N`
        settings = get_settings()
        configure_logging(settings.log_level)
    engine = create_db_engine(settings.database_url, pool_size=settings.database_pool_size)
    session_factory = create_session_factory(engine)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        writer: RemoteWriter | GroupCommitWriter
        if settings.writer_socket:  # started by `logcenter serve`: its writer process commits for all workers
            writer = RemoteWriter(settings.writer_socket)
        else:
            writer = GroupCommitWriter(
                BatchCommitter(
                    session_factory,
                    retention=settings.occurrence_retention,
                    count_interval=settings.count_interval,
                ),
                max_batch=settings.writer_max_batch,
                queue_size=settings.writer_queue_size,
            )
        app.state.writer = writer
        await writer.start()
        stop = threading.Event()
        sweeper = threading.Thread(
            target=_sweep_leases, args=(app, stop), name="logcenter-lease-sweeper", daemon=True
        )
        sweeper.start()
        if settings.writer_socket:  # a worker of `logcenter serve`: this process only serves this app
            settle_heap()  # what start-up built lives as long as the process (logcenter/process.py)
        try:
            yield
        finally:
            stop.set()
            await writer.stop()
            sweeper.join(5)
            engine.dispose()

    app = FastAPI(
        title="Log Center",
        version=__version__,
        description="Self-hosted error tracker with human-reviewed automatic bug fixing.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.session_factory = session_factory
    _install_error_handlers(app)
    # The ingest hot path comes first and as plain Starlette routes (see ingest/routes.py).
    app.router.routes[:0] = [*ingest_routes.routes, *sentry_routes.routes]
    for router in (projects_router, bugs_router, repair_router, stats_router):
        app.include_router(router)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]

    @app.get("/api/health", tags=["meta"], summary="Liveness")
    def health() -> dict[str, str]:
        return {"status": "ok", "version": __version__}

    return app


def _sweep_leases(app: FastAPI, stop: threading.Event) -> None:
    """Return bugs of crashed agents to NEW even when no agent is claiming."""
    settings: Settings = app.state.settings
    while not stop.wait(settings.lease_sweep_seconds):
        try:
            with session_scope(app.state.session_factory) as session:
                swept = repair_service.sweep_expired(session)
            if swept:
                log.info("repair.leases_expired", count=swept)
        except Exception:
            log.exception("repair.sweep_failed")


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
    """FastAPI's schema, plus the ingest routes, which are plain Starlette routes (see ingest/routes.py)."""
    if app.openapi_schema:
        return app.openapi_schema
    from fastapi.openapi.utils import get_openapi

    schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
    ref = "#/components/schemas/{model}"
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for model in ingest_routes.OPENAPI_MODELS:
        model_schema = model.model_json_schema(ref_template=ref)
        components.update(model_schema.pop("$defs", {}))
        components[model.__name__] = model_schema
    schema["paths"] = {
        **ingest_routes.openapi_paths(ref),
        **sentry_routes.openapi_paths(),
        **schema["paths"],
    }
    app.openapi_schema = schema
    return schema
