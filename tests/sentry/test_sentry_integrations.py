"""sentry-python as a Django, FastAPI, Flask, Celery or logging user has it: `sentry_sdk.init(dsn=...)` with
the integrations it enables by itself, tracing on (`traces_sample_rate=1.0`), profiling, sessions and client
reports, against a live Log Center.

Each application runs in a subprocess of its own, as it would in production: the SDK's integrations patch the
frameworks they find, and the server under test is one of them (Starlette). Every envelope the SDK sent is
recorded with its item types and the answer: Log Center must accept all of them (the SDK counts any other
answer as lost data), make bugs of the errors only, and store nothing for transactions, sessions, client
reports, profiles, check-ins or attachments (what Sentry keeps elsewhere and Bugsink accepts and drops).
"""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from typing import Any

import brotli  # type: ignore[import-untyped]
import httpx
import orjson
import pytest
from fastapi import FastAPI

from logcenter.main import create_app
from tests.conftest import LiveServer, run_live_server
from tests.sentry.helpers import stored
from tests.sentry.test_sentry_sdk import dsn  # noqa: F401  (fixture)


class _RecordEnvelopes:
    """Notes each Sentry request's item types and answer status, wrapping the app from outside as a proxy
    would (middleware added to the app does not see ingest POSTs)."""

    def __init__(self, app: Any, seen: list[tuple[list[str], int]]) -> None:
        self.app, self.seen = app, seen

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/api/") or "/v1/" in scope["path"]:
            await self.app(scope, receive, send)
            return
        body = bytearray()
        messages = []
        while True:
            message = await receive()
            messages.append(message)
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        encoding = dict(scope["headers"]).get(b"content-encoding", b"").decode()
        raw = bytes(body)
        if encoding == "gzip":
            raw = gzip.decompress(raw)
        elif encoding == "br":
            raw = brotli.decompress(raw)
        types = _item_types(raw) if scope["path"].endswith("/envelope/") else ["store"]
        status: list[int] = []

        async def replay() -> Any:
            return messages.pop(0) if messages else {"type": "http.disconnect"}

        async def record(message: Any) -> None:
            if message["type"] == "http.response.start":
                status.append(message["status"])
            await send(message)

        await self.app(scope, replay, record)
        self.seen.append((types, status[0] if status else 0))


def _item_types(raw: bytes) -> list[str]:
    """The item types of an envelope (sentry-python writes a `length` for every item)."""
    types = []
    _, _, rest = raw.partition(b"\n")
    while rest.strip():
        header_line, _, rest = rest.partition(b"\n")
        header = orjson.loads(header_line)
        types.append(header["type"])
        length = header.get("length")
        if length is None:
            _, _, rest = rest.partition(b"\n")
        else:
            rest = rest[length + 1 :]
    return types


@pytest.fixture
def app(settings) -> FastAPI:
    app = create_app(settings)
    app.state.envelopes = []
    return app


@pytest.fixture
def live_server(app: FastAPI, settings) -> Iterator[LiveServer]:
    for url, port in run_live_server(_RecordEnvelopes(app, seen=app.state.envelopes)):
        yield LiveServer(url=url, port=port, app=app, settings=settings)


# What every application below starts with: the SDK as the Sentry docs show it, tracing and profiling on.
_INIT = """\
import os, sentry_sdk
sentry_sdk.init(
    dsn=os.environ["SENTRY_DSN"],
    release="shop@1.4.0",
    traces_sample_rate=1.0,
    profile_session_sample_rate=1.0,
    profile_lifecycle="trace",
)
"""
_FLUSH = "\nsentry_sdk.flush(timeout=10)\nprint('sent')\n"


@pytest.fixture
def run_app(dsn, tmp_path) -> Any:  # noqa: F811
    """Run `code` (after _INIT, before a flush) as `shop.py` in a new interpreter; returns shop.py's text."""

    def run(code: str, *files: tuple[str, str]) -> str:
        for name, text in files:
            (tmp_path / name).write_text(textwrap.dedent(text))
        script = _INIT + textwrap.dedent(code) + _FLUSH
        (tmp_path / "shop.py").write_text(script)
        env = {**os.environ, "SENTRY_DSN": dsn, "PYTHONPATH": str(tmp_path)}
        env.pop("SENTRY_RELEASE", None)
        done = subprocess.run(
            [sys.executable, "shop.py"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0 and done.stdout.endswith("sent\n"), done.stdout + done.stderr
        return script

    return run


def line_of(code: str, text: str) -> int:
    return code.splitlines().index(text) + 1


def the_bugs(api: httpx.Client) -> list[dict[str, Any]]:
    response = api.get("/api/v1/bugs", params={"project_id": "shop", "sort": "id"})
    assert response.status_code == 200, response.text
    bugs: list[dict[str, Any]] = response.json()["bugs"]
    return bugs


def all_accepted(app: FastAPI) -> list[str]:
    """Every item type the SDK sent; fails unless every request was answered 200."""
    seen: list[tuple[list[str], int]] = app.state.envelopes
    assert seen and all(status == 200 for _, status in seen), seen
    return sorted({item for types, _ in seen for item in types})


def traced(types: list[str]) -> bool:
    """An error and, tracing being on, its trace: sentry-sdk 3.0 sends spans as `span` items, 2.x as a
    `transaction`."""
    return "event" in types and bool({"span", "transaction"} & set(types))


def one_error_bug(api: httpx.Client, db: Any) -> dict[str, Any]:
    """The one bug, with exactly one occurrence: nothing else the SDK sent was stored."""
    [bug] = the_bugs(api)
    bugs, occurrences = stored(db)
    assert (len(bugs), len(occurrences)) == (1, 1)
    detail: dict[str, Any] = api.get(f"/api/v1/bugs/{bug['id']}").json()
    return detail


def test_flask(app, api, db, run_app):
    code = run_app(
        """
        from flask import Flask

        app = Flask("shop")

        @app.route("/cart/<int:items>")
        def cart(items):
            return str(100 / items)

        with app.test_client() as client:
            assert client.get("/cart/4").status_code == 200
            assert client.get("/cart/0?coupon=SPRING", headers={"User-Agent": "pytest"}).status_code == 500
        """
    )
    bug = one_error_bug(api, db)
    assert (bug["error_type"], bug["message"]) == ("ZeroDivisionError", "division by zero")
    assert (bug["file_path"], bug["line_number"]) == ("shop.py", line_of(code, "    return str(100 / items)"))
    assert bug["version"] == "shop@1.4.0"
    occurrence = bug["occurrences"][0]
    assert occurrence["context"] == {"url": "http://localhost/cart/0", "method": "GET"}
    assert occurrence["data"]["request"]["query_string"] == "coupon=SPRING"
    assert occurrence["data"]["transaction"] == "/cart/<int:items>"
    assert occurrence["data"]["mechanism"]["handled"] is False
    assert traced(all_accepted(app))


def test_django(app, api, db, run_app, tmp_path):
    # Served by a WSGI server, as in production: sentry-sdk 3.0's Django integration sends `"request": {}`
    # for a request made with django.test.Client.
    run_app(
        """
        import threading
        import urllib.error
        import urllib.request
        from wsgiref.simple_server import WSGIRequestHandler, make_server

        import django
        from django.conf import settings

        settings.configure(
            DEBUG=False, SECRET_KEY="x", ROOT_URLCONF="urls", ALLOWED_HOSTS=["*"], MIDDLEWARE=[],
            INSTALLED_APPS=[],
        )
        django.setup()
        from django.core.wsgi import get_wsgi_application

        class Quiet(WSGIRequestHandler):
            def log_message(self, *args):
                pass

        server = make_server("127.0.0.1", 0, get_wsgi_application(), handler_class=Quiet)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        base = f"http://127.0.0.1:{server.server_port}"
        assert urllib.request.urlopen(f"{base}/orders/1/").status == 200
        try:
            urllib.request.urlopen(f"{base}/orders/7/?page=2")
        except urllib.error.HTTPError as error:
            assert error.code == 500
        server.shutdown()
        """,
        (
            "urls.py",
            """\
            from django.http import HttpResponse
            from django.urls import path


            def order(request, pk):
                return HttpResponse({1: "one"}[pk])


            urlpatterns = [path("orders/<int:pk>/", order)]
            """,
        ),
    )
    bug = one_error_bug(api, db)
    assert (bug["error_type"], bug["message"]) == ("KeyError", "7")
    urls = (tmp_path / "urls.py").read_text()
    assert (bug["file_path"], bug["line_number"]) == (
        "urls.py",
        line_of(urls, '    return HttpResponse({1: "one"}[pk])'),
    )
    occurrence = bug["occurrences"][0]
    assert occurrence["context"]["method"] == "GET"
    assert occurrence["context"]["url"].endswith("/orders/7/")
    assert occurrence["data"]["request"]["query_string"] == "page=2"
    assert occurrence["data"]["transaction"] == "/orders/{pk}/"
    assert occurrence["data"]["mechanism"] == {"type": "django", "handled": False, "exception_id": 0}
    assert traced(all_accepted(app))


def test_fastapi(app, api, db, run_app):
    code = run_app(
        """
        from fastapi import FastAPI
        from fastapi.testclient import TestClient

        app = FastAPI()

        @app.get("/stock/{sku}")
        async def stock(sku: str):
            return {"left": int(sku)}

        with TestClient(app, raise_server_exceptions=False) as client:
            assert client.get("/stock/12").status_code == 200
            assert client.get("/stock/abc").status_code == 500
        """
    )
    bug = one_error_bug(api, db)
    assert (bug["error_type"], bug["message"]) == (
        "ValueError",
        "invalid literal for int() with base 10: 'abc'",
    )
    assert (bug["file_path"], bug["line_number"]) == (
        "shop.py",
        line_of(code, '    return {"left": int(sku)}'),
    )
    occurrence = bug["occurrences"][0]
    assert occurrence["context"] == {"url": "http://testserver/stock/abc", "method": "GET"}
    assert occurrence["data"]["transaction"] == "/stock/{sku}"
    types = all_accepted(app)
    assert traced(types) and "sessions" in types, types  # the request-mode session aggregates


def test_celery(app, api, db, run_app):
    code = run_app(
        """
        from celery import Celery

        celery = Celery("shop", broker="memory://", backend="cache+memory://")
        celery.conf.task_always_eager = True

        @celery.task
        def refund(amount):
            if amount > 100:
                raise RuntimeError(f"refund of {amount} needs approval")
            return amount

        assert refund.delay(10).get() == 10
        assert refund.delay(500).failed()
        """
    )
    bug = one_error_bug(api, db)
    assert (bug["error_type"], bug["message"]) == ("RuntimeError", "refund of 500 needs approval")
    line = line_of(code, '        raise RuntimeError(f"refund of {amount} needs approval")')
    assert (bug["file_path"], bug["line_number"]) == ("shop.py", line)
    occurrence = bug["occurrences"][0]
    assert occurrence["data"]["transaction"] == "shop.refund"
    assert occurrence["data"]["mechanism"]["type"] == "celery"
    assert traced(all_accepted(app))


def test_logging_with_event_level_as_the_docs_show(app, api, db, run_app):
    code = run_app(
        """
        import logging
        from sentry_sdk.integrations.logging import LoggingIntegration

        sentry_sdk.get_client().close()
        sentry_sdk.init(
            dsn=os.environ["SENTRY_DSN"], traces_sample_rate=1.0,
            integrations=[LoggingIntegration(event_level=logging.ERROR)],
        )
        log = logging.getLogger("shop.sync")
        log.error("Inventory sync failed for %s", "warehouse-3")
        try:
            {}["sku"]
        except KeyError:
            log.exception("Lookup failed")
        log.warning("Only a breadcrumb")
        """
    )
    found = {bug["error_type"]: bug for bug in the_bugs(api)}
    assert set(found) == {"shop.sync", "KeyError"}
    assert (found["shop.sync"]["message"], found["shop.sync"]["level"]) == (
        "Inventory sync failed for warehouse-3",
        "ERROR",
    )
    assert (found["KeyError"]["file_path"], found["KeyError"]["line_number"]) == (
        "shop.py",
        line_of(code, '    {}["sku"]'),
    )
    detail = api.get(f"/api/v1/bugs/{found['KeyError']['id']}").json()
    assert detail["occurrences"][0]["data"]["message"] == "Lookup failed"
    assert "event" in all_accepted(app)


def test_logging_by_default_sends_sentry_logs_which_are_accepted_and_not_bugs(app, api, db, run_app):
    """sentry-sdk 3.0 enables the logging integration only when listed, and then makes `log` items of
    records, not events (event_level=None): Sentry shows them under Logs, not Issues; Log Center accepts and
    drops them."""
    run_app(
        """
        import logging
        from sentry_sdk.integrations.logging import LoggingIntegration

        sentry_sdk.get_client().close()
        sentry_sdk.init(dsn=os.environ["SENTRY_DSN"], integrations=[LoggingIntegration()])

        logging.getLogger("shop.sync").error("Inventory sync failed for %s", "warehouse-3")
        """
    )
    assert "log" in all_accepted(app)
    assert stored(db) == ([], [])


def test_transactions_sessions_profiles_check_ins_and_attachments_are_accepted_and_not_stored(
    app, api, db, run_app
):
    run_app(
        """
        import time
        from sentry_sdk.crons import capture_checkin, monitor

        with sentry_sdk.start_span(name="nightly-report", attributes={"sentry.op": "task"}):
            with sentry_sdk.start_span(name="SELECT 1", attributes={"sentry.op": "db"}):
                time.sleep(0.3)
        capture_checkin(monitor_slug="nightly", status="in_progress")

        @monitor(monitor_slug="hourly")
        def hourly():
            return 1

        hourly()
        sentry_sdk.get_isolation_scope().add_attachment(bytes=b"order,total\\n1,9.99\\n", filename="cart.csv")
        try:
            1 / 0
        except ZeroDivisionError:
            sentry_sdk.capture_exception()
        sentry_sdk.get_isolation_scope()._attachments.clear()
        # An event dropped by before_send makes the SDK send a client report.
        sentry_sdk.get_client().options["before_send"] = lambda event, hint: None
        sentry_sdk.capture_message("dropped")
        sentry_sdk.get_isolation_scope().end_session()
        """
    )
    types = all_accepted(app)
    assert {"event", "attachment", "span", "profile_chunk", "check_in", "client_report"} <= set(types), types
    bug = one_error_bug(api, db)
    assert bug["error_type"] == "ZeroDivisionError"
