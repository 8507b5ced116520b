"""End to end: the SDK reports to the real Log Center (SQLite and PostgreSQL), checked via the API."""

from __future__ import annotations

import hashlib
import logging
import sys
from pathlib import Path
from typing import Any

import httpx
import logcenter_sdk
from fastapi import FastAPI
from fastapi.testclient import TestClient
from logcenter_sdk import LogCenterHandler, Stats
from logcenter_sdk.integrations.fastapi import LogCenterMiddleware

from logcenter.config import Settings
from logcenter.main import create_app
from tests.conftest import LiveServer, run_live_server

ROOT = Path(__file__).resolve().parents[2]
THIS_FILE = Path(__file__).resolve().relative_to(ROOT).as_posix()


def lineno() -> int:
    return sys._getframe(1).f_lineno


def list_bugs(base_url: str, admin_token: str, **params: str) -> list[dict[str, Any]]:
    response = httpx.get(
        f"{base_url}/api/v1/bugs",
        params=params,
        headers={"Authorization": f"Bearer {admin_token}"},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    return list(response.json()["bugs"])


def test_exceptions_from_one_line_become_one_bug_with_the_guides_fingerprint(
    live_server: LiveServer, admin_token: str
) -> None:
    client = logcenter_sdk.init(
        live_server.url,
        "sdk_e2e",
        "production",
        version="2.0.1",
        commit_hash="abc1234",
        root_path=str(ROOT),
    )
    for user_id in ("abc", "xyz"):
        try:
            raising_line = lineno() + 1
            int(user_id)
        except ValueError as exc:
            assert logcenter_sdk.capture_exception(exc, {"url": "/api/users/123", "user_id": "u_12345"})
    assert logcenter_sdk.flush(10)
    assert client.stats() == Stats(sent=2)

    [bug] = list_bugs(live_server.url, admin_token, project_id="sdk_e2e")
    assert (bug["error_type"], bug["file_path"], bug["line_number"]) == (
        "ValueError",
        THIS_FILE,
        raising_line,
    )
    assert (
        bug["fingerprint"]
        == hashlib.md5(f"sdk_e2e|ValueError|{THIS_FILE}|{raising_line}".encode()).hexdigest()
    )
    assert bug["occurrence_count"] == 2
    assert bug["message"] == "invalid literal for int() with base 10: 'xyz'"
    assert (bug["source"], bug["level"], bug["status"]) == ("runtime", "ERROR", "NEW")
    assert (bug["environment"], bug["version"], bug["commit_hash"]) == ("production", "2.0.1", "abc1234")
    assert bug["context"] == {"url": "/api/users/123", "user_id": "u_12345"}
    assert bug["stack_trace"].startswith("Traceback (most recent call last):\n")
    assert bug["stack_trace"].endswith("ValueError: invalid literal for int() with base 10: 'xyz'")


def test_messages_and_log_records_become_bugs_at_their_line(
    live_server: LiveServer, admin_token: str
) -> None:
    logcenter_sdk.init(live_server.url, "sdk_e2e", "staging", root_path=str(ROOT))
    logger = logging.getLogger("sdk_e2e.payments")
    handler = LogCenterHandler(logging.WARNING)
    logger.addHandler(handler)
    try:
        message_line = lineno() + 1
        logcenter_sdk.capture_message("payment provider timed out", level="CRITICAL")
        log_line = lineno() + 1
        logger.warning("refund of %s took %d s", "order-7", 12)
    finally:
        logger.removeHandler(handler)
    assert logcenter_sdk.flush(10)

    bugs = {b["line_number"]: b for b in list_bugs(live_server.url, admin_token, project_id="sdk_e2e")}
    assert set(bugs) == {message_line, log_line}
    assert (bugs[message_line]["error_type"], bugs[message_line]["level"]) == ("Message", "CRITICAL")
    assert (bugs[log_line]["error_type"], bugs[log_line]["message"]) == (
        "sdk_e2e.payments",
        "refund of order-7 took 12 s",
    )
    assert (bugs[log_line]["level"], bugs[log_line]["file_path"]) == ("WARNING", THIS_FILE)
    assert bugs[log_line]["context"] == {"logger": "sdk_e2e.payments"}


def test_a_fastapi_apps_500_reaches_log_center(live_server: LiveServer, admin_token: str) -> None:
    logcenter_sdk.init(live_server.url, "shop_api", "production", root_path=str(ROOT))
    app = FastAPI()
    app.add_middleware(LogCenterMiddleware)

    @app.get("/orders/{order_id}")
    def get_order(order_id: str) -> dict[str, Any]:
        raise LookupError(f"order {order_id} not found in the cache")

    with TestClient(app, raise_server_exceptions=False) as http:
        assert http.get("/orders/9").status_code == 500
    assert logcenter_sdk.flush(10)

    [bug] = list_bugs(live_server.url, admin_token, project_id="shop_api")
    assert (bug["error_type"], bug["file_path"]) == ("LookupError", THIS_FILE)
    assert bug["context"] == {"url": "/orders/9", "method": "GET", "route": "/orders/{order_id}"}


def test_with_ingest_keys_required_the_projects_key_is_sent_and_a_wrong_one_refused(
    settings: Settings, admin_token: str
) -> None:
    app = create_app(settings.model_copy(update={"ingest_require_key": True}))
    for url, _ in run_live_server(app):
        created = httpx.post(
            f"{url}/api/v1/projects",
            json={"project_id": "keyed"},
            headers={"Authorization": f"Bearer {admin_token}"},
            timeout=10,
        )
        assert created.status_code == 201, created.text
        key = created.json()["ingest_key"]

        for ingest_key in ("wrong-key", None):
            refused = logcenter_sdk.init(url, "keyed", "production", ingest_key=ingest_key)
            logcenter_sdk.capture_exception(ValueError("refused"))
            assert logcenter_sdk.flush(10)
            assert refused.stats() == Stats(rejected=1)

        accepted = logcenter_sdk.init(url, "keyed", "production", ingest_key=key)
        logcenter_sdk.capture_exception(ValueError("accepted"))
        assert logcenter_sdk.flush(10)
        assert accepted.stats() == Stats(sent=1)
        assert [b["message"] for b in list_bugs(url, admin_token, project_id="keyed")] == ["accepted"]
        logcenter_sdk.close()
