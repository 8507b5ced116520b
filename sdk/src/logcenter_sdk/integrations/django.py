"""Django and Django REST framework.

Middleware (any Django view)::

    MIDDLEWARE = [..., "logcenter_sdk.integrations.django.LogCenterMiddleware"]

DRF, the integration guide's ``custom_exception_handler``: either use ours, which wraps DRF's default::

    REST_FRAMEWORK = {"EXCEPTION_HANDLER": "logcenter_sdk.integrations.django.drf_exception_handler"}

or call ``report_drf_exception(exc, context)`` first thing in your own handler. Exceptions that Django or DRF
turn into 4xx responses (404, permission denied, validation errors...) are client errors, not bugs, and are
not reported. Using the middleware and a DRF handler together reports each exception once.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from django.core.exceptions import BadRequest, PermissionDenied, SuspiciousOperation
from django.http import Http404
from django.utils.deprecation import MiddlewareMixin

from .._api import _never_raise, capture_exception

if TYPE_CHECKING:
    from django.http import HttpRequest
    from rest_framework.response import Response

_CLIENT_ERRORS: tuple[type[BaseException], ...] = (Http404, PermissionDenied, SuspiciousOperation, BadRequest)


def _is_client_error(exc: BaseException) -> bool:
    if isinstance(exc, _CLIENT_ERRORS):
        return True
    try:
        from rest_framework.exceptions import APIException
    except ImportError:  # DRF is optional: plain Django projects use only the middleware
        return False
    return isinstance(exc, APIException) and exc.status_code < 500


def request_context(request: Any) -> dict[str, Any]:
    """The request part of a report's context: path and method (no query string: it may hold secrets)."""
    context: dict[str, Any] = {"url": getattr(request, "path", ""), "method": getattr(request, "method", "")}
    match = getattr(request, "resolver_match", None)
    if match is not None and getattr(match, "view_name", None):
        context["view"] = match.view_name
    return context


class LogCenterMiddleware(MiddlewareMixin):
    """Reports exceptions raised by views (sync and async) and leaves Django's response to them unchanged."""

    def process_exception(self, request: HttpRequest, exception: Exception) -> None:
        if not _is_client_error(exception):
            capture_exception(exception, context=request_context(request))
        return None  # let Django (or the next middleware) build the response


@_never_raise(default=False)
def report_drf_exception(exc: BaseException, context: Mapping[str, Any]) -> bool:
    """Report an exception given to a DRF exception handler, unless it is a client error; True if queued."""
    if _is_client_error(exc):
        return False
    request = context.get("request")
    report_context = request_context(request) if request is not None else {}
    view = context.get("view")
    if view is not None:
        report_context["view"] = f"{type(view).__module__}.{type(view).__qualname__}"
    return capture_exception(exc, context=report_context)


def drf_exception_handler(exc: Exception, context: Mapping[str, Any]) -> Response | None:
    """DRF's default exception handler, reporting what it leaves unhandled (the future 500s)."""
    from rest_framework.views import exception_handler

    response: Response | None = exception_handler(exc, context)
    if response is None or response.status_code >= 500:
        report_drf_exception(exc, context)
    return response
