"""Starlette and FastAPI (and any ASGI app): ``app.add_middleware(LogCenterMiddleware)``.

Plain ASGI, so it needs nothing from Starlette. Added with ``add_middleware`` it sits inside Starlette's
ServerErrorMiddleware and outside its ExceptionMiddleware: exceptions that the app turns into responses
(HTTPException, your exception handlers) are not reported; every other one is reported and re-raised, so the
app's 500 response, its own error handlers and the server's log are unchanged.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from .._api import capture_exception

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def request_context(scope: Scope) -> dict[str, Any]:
    """The request part of a report's context: path and method, no query string (it may hold secrets)."""
    context: dict[str, Any] = {"url": scope.get("path", "")}
    if scope["type"] == "http":
        context["method"] = scope.get("method", "")
    else:
        context["method"] = "WEBSOCKET"
    route = scope.get("route")
    if route is not None and getattr(route, "path", None):
        context["route"] = route.path  # the template ("/users/{id}"), set by Starlette's router
    return context


class LogCenterMiddleware:
    """Reports exceptions that escape the app (the ones that become 500s) and re-raises them."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        try:
            await self.app(scope, receive, send)
        except Exception as exc:
            capture_exception(exc, context=request_context(scope))
            raise
