"""FastAPI is Starlette: ``app.add_middleware(LogCenterMiddleware)``, see ``integrations.starlette``."""

from .starlette import LogCenterMiddleware, request_context

__all__ = ["LogCenterMiddleware", "request_context"]
