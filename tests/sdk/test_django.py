"""The Django middleware and the DRF exception handlers (the integration guide's custom_exception_handler)."""

from __future__ import annotations

import asyncio
import sys
import types
from collections.abc import Iterator
from typing import Any

import pytest

django = pytest.importorskip("django")
pytest.importorskip("rest_framework")

from django.conf import settings  # noqa: E402

URLCONF = "tests.sdk.django_urls"

if not settings.configured:
    settings.configure(
        DEBUG=False,
        SECRET_KEY="not-secret",
        ALLOWED_HOSTS=["testserver"],
        ROOT_URLCONF=URLCONF,
        INSTALLED_APPS=["rest_framework"],
        DATABASES={},
        MIDDLEWARE=["logcenter_sdk.integrations.django.LogCenterMiddleware"],
        REST_FRAMEWORK={
            "EXCEPTION_HANDLER": "logcenter_sdk.integrations.django.drf_exception_handler",
            "DEFAULT_AUTHENTICATION_CLASSES": [],
            "DEFAULT_PERMISSION_CLASSES": [],
            "UNAUTHENTICATED_USER": None,
        },
        LOGGING_CONFIG=None,  # leave logging to pytest
    )
    django.setup()

import logcenter_sdk  # noqa: E402
from django.core.exceptions import PermissionDenied  # noqa: E402
from django.http import Http404, HttpRequest, HttpResponse  # noqa: E402
from django.test import AsyncClient, Client, override_settings  # noqa: E402
from django.urls import path  # noqa: E402
from logcenter_sdk.integrations.django import report_drf_exception  # noqa: E402
from rest_framework.exceptions import ValidationError  # noqa: E402
from rest_framework.request import Request  # noqa: E402
from rest_framework.response import Response  # noqa: E402
from rest_framework.views import APIView, exception_handler  # noqa: E402

from tests.sdk.fake_server import FakeLogCenter  # noqa: E402


def broken_view(request: HttpRequest) -> HttpResponse:
    raise ValueError("invalid literal for int() with base 10: 'abc'")


def not_found_view(request: HttpRequest) -> HttpResponse:
    raise Http404("no such user")


def forbidden_view(request: HttpRequest) -> HttpResponse:
    raise PermissionDenied


async def async_broken_view(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("async view failed")


class UsersView(APIView):
    def get(self, request: Request) -> Response:
        return Response({"id": int(request.query_params["id"])})

    def post(self, request: Request) -> Response:
        raise ValidationError({"name": ["This field is required."]})


def custom_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """A project's own handler, as in the integration guide, reporting first."""
    report_drf_exception(exc, context)
    response = exception_handler(exc, context)
    return response if response is not None else Response({"detail": "server error"}, status=500)


urls = types.ModuleType(URLCONF)
urls.urlpatterns = [  # type: ignore[attr-defined]
    path("broken/", broken_view, name="broken"),
    path("missing/", not_found_view),
    path("forbidden/", forbidden_view),
    path("async-broken/", async_broken_view),
    path("api/users/", UsersView.as_view(), name="users"),
]
sys.modules[URLCONF] = urls


@pytest.fixture
def reports(fake_server: FakeLogCenter) -> Iterator[FakeLogCenter]:
    logcenter_sdk.init(fake_server.url, "rtc_backend", "test")
    yield fake_server


def sent(server: FakeLogCenter) -> list[dict[str, Any]]:
    assert logcenter_sdk.flush(5)
    return server.reports()


def test_the_middleware_reports_a_view_error_and_django_still_answers_500(reports: FakeLogCenter) -> None:
    response = Client(raise_request_exception=False).get("/broken/?password=x")
    assert response.status_code == 500
    [report] = sent(reports)
    assert report["error"]["type"] == "ValueError"
    assert report["error"]["file_path"].endswith("tests/sdk/test_django.py")
    assert report["context"] == {"url": "/broken/", "method": "GET", "view": "broken"}


@pytest.mark.parametrize(("url", "status"), [("/missing/", 404), ("/forbidden/", 403)])
def test_client_errors_are_not_reported(reports: FakeLogCenter, url: str, status: int) -> None:
    assert Client().get(url).status_code == status
    assert sent(reports) == []


def test_async_views_are_covered_too(reports: FakeLogCenter) -> None:
    async def call() -> int:
        response = await AsyncClient(raise_request_exception=False).get("/async-broken/")
        return int(response.status_code)

    assert asyncio.run(call()) == 500
    assert [r["error"]["type"] for r in sent(reports)] == ["RuntimeError"]


def test_the_drf_handler_reports_unhandled_errors_once_with_the_view(reports: FakeLogCenter) -> None:
    response = Client(raise_request_exception=False).get("/api/users/?id=abc")
    assert response.status_code == 500
    [report] = sent(reports)  # DRF's handler and the middleware both saw it
    assert report["error"]["type"] == "ValueError"
    assert report["context"] == {
        "url": "/api/users/",
        "method": "GET",
        "view": "tests.sdk.test_django.UsersView",
    }


def test_drf_validation_errors_are_not_reported(reports: FakeLogCenter) -> None:
    response = Client().post("/api/users/", {})
    assert response.status_code == 400
    assert sent(reports) == []


def test_report_drf_exception_in_a_projects_own_handler(reports: FakeLogCenter) -> None:
    handler = {**settings.REST_FRAMEWORK, "EXCEPTION_HANDLER": f"{__name__}.custom_exception_handler"}
    with override_settings(REST_FRAMEWORK=handler):
        response = Client().get("/api/users/?id=abc")
        assert (response.status_code, response.json()) == (500, {"detail": "server error"})
        assert Client().post("/api/users/", {}).status_code == 400
    [report] = sent(reports)
    assert report["context"]["view"] == "tests.sdk.test_django.UsersView"
