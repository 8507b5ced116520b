"""The real sentry-sdk against a live server, configured with nothing but the DSN Log Center shows."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import sentry_sdk
from fastapi import FastAPI
from sentry_sdk.integrations.logging import LoggingIntegration

from logcenter.main import create_app
from tests.conftest import LiveServer, run_live_server
from tests.factories import make_project


class _RecordEncodings:
    """Notes each request's Content-Encoding, to prove which compression went over the wire. It wraps the app
    from outside, as a proxy would: middleware added to the app does not see ingest POSTs (LogCenterApp)."""

    def __init__(self, app: Any, seen: list[str | None]) -> None:
        self.app, self.seen = app, seen

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"].endswith("/envelope/"):
            encoding = dict(scope["headers"]).get(b"content-encoding")
            self.seen.append(encoding.decode() if encoding else None)
        await self.app(scope, receive, send)


@pytest.fixture
def app(settings) -> FastAPI:
    app = create_app(settings)
    app.state.encodings = []
    return app


@pytest.fixture
def live_server(app: FastAPI, settings) -> Iterator[LiveServer]:
    for url, port in run_live_server(_RecordEncodings(app, seen=app.state.encodings)):
        yield LiveServer(url=url, port=port, app=app, settings=settings)


@pytest.fixture
def dsn(api, session) -> str:
    make_project(session, "shop")
    session.commit()
    response = api.get("/api/v1/projects/shop")
    assert response.status_code == 200, response.text
    return response.json()["dsn"]


@pytest.fixture
def sentry(dsn) -> Iterator[Any]:
    """sentry_sdk.init(dsn=...) as an application would call it, isolated from the test process."""

    def init(**options: Any) -> None:
        # No auto-enabled integrations: they would patch Starlette and SQLAlchemy in the server under test.
        sentry_sdk.init(dsn=dsn, default_integrations=False, auto_enabling_integrations=False, **options)

    yield init
    sentry_sdk.flush(timeout=10)
    sentry_sdk.get_client().close()


def bugs(api: httpx.Client) -> list[dict[str, Any]]:
    return api.get("/api/v1/bugs", params={"project_id": "shop", "sort": "id"}).json()["bugs"]


def divide(a: int, b: int) -> float:
    return a / b


def capture_division_error() -> None:
    try:
        divide(1, 0)
    except ZeroDivisionError:
        sentry_sdk.capture_exception()


@pytest.mark.parametrize("algo", ["gzip", "br"])
def test_capture_exception_is_grouped_with_gzip_and_brotli(app, api, sentry, algo):
    sentry(release="shop@2.1.0", environment="staging", _experiments={"transport_compression_algo": algo})
    sentry_sdk.set_tag("tenant", "acme")
    for _ in range(2):
        capture_division_error()
    sentry_sdk.flush(timeout=10)

    assert app.state.encodings == [algo, algo]
    [bug] = bugs(api)
    assert (bug["error_type"], bug["message"], bug["level"]) == (
        "ZeroDivisionError",
        "division by zero",
        "ERROR",
    )
    assert bug["file_path"] == "tests/sentry/test_sentry_sdk.py" or bug["file_path"].endswith(
        "test_sentry_sdk.py"
    )
    assert bug["line_number"] == divide.__code__.co_firstlineno + 1
    assert (bug["environment"], bug["version"], bug["occurrence_count"]) == ("staging", "shop@2.1.0", 2)
    assert "    return a / b" in bug["stack_trace"]
    assert bug["stack_trace"].endswith("ZeroDivisionError: division by zero")

    detail = api.get(f"/api/v1/bugs/{bug['id']}").json()
    occurrence = detail["occurrences"][0]
    assert len(occurrence["event_id"]) == 32
    assert occurrence["data"]["tags"] == {"tenant": "acme"}
    assert occurrence["data"]["platform"] == "python"
    assert occurrence["data"]["sdk"]["name"] == "sentry.python"


def test_capture_message_and_logging_become_bugs(api, sentry):
    sentry(integrations=[LoggingIntegration(level=None, event_level=logging.ERROR)])
    sentry_sdk.capture_message("Cache warmed in 12 ms", level="warning")
    sentry_sdk.capture_message("Cache warmed in 30 ms", level="warning")
    log = logging.getLogger("shop.payments")
    for order in (17, 18):
        log.error("Charge failed for order %s", order)
    sentry_sdk.flush(timeout=10)

    found = {(b["error_type"], b["level"]): b for b in bugs(api)}
    assert set(found) == {("Message", "WARNING"), ("shop.payments", "ERROR")}
    assert found["Message", "WARNING"]["occurrence_count"] == 2  # numbers masked for grouping
    logged = found["shop.payments", "ERROR"]
    assert logged["occurrence_count"] == 2  # grouped by the %s template
    assert logged["message"] == "Charge failed for order 18"


def test_custom_fingerprint(api, sentry):
    sentry()
    for tenant in ("acme", "globex", "acme"):
        with sentry_sdk.new_scope() as scope:
            scope.fingerprint = ["{{ default }}", tenant]
            capture_division_error()
    sentry_sdk.flush(timeout=10)
    assert sorted(b["occurrence_count"] for b in bugs(api)) == [1, 2]


def test_a_wrong_dsn_key_stores_nothing(api, dsn):
    wrong = dsn.replace(dsn.split("//")[1].split("@")[0], "0" * 32)
    sentry_sdk.init(dsn=wrong, default_integrations=False, auto_enabling_integrations=False)
    try:
        capture_division_error()
        sentry_sdk.flush(timeout=10)
    finally:
        sentry_sdk.get_client().close()
    assert bugs(api) == []
