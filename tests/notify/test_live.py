"""The real server: its own job worker thread turns a report into a chat message, with nobody running jobs
by hand (as `logcenter serve` does)."""

from __future__ import annotations

import time

import httpx

from logcenter.config import Settings
from logcenter.main import create_app
from tests.conftest import run_live_server
from tests.factories import report_payload
from tests.notify.receivers import Receiver


def test_the_servers_worker_delivers_a_new_bug(
    settings: Settings, admin_headers: dict[str, str], receiver: Receiver
) -> None:
    receiver.default = (200, "ok")
    app = create_app(settings.model_copy(update={"job_worker": True, "notify_interval_seconds": 1}))
    for url, _ in run_live_server(app):
        with httpx.Client(base_url=url, headers=admin_headers, timeout=10) as api:
            channel = {"name": "slack", "kind": "slack", "url": f"{receiver.url}/services/T/B/X"}
            assert api.post("/api/v1/notification-channels", json=channel).status_code == 201
            assert api.post("/api/v1/logs/report", json=report_payload(project_id="live")).status_code == 200
            deadline = time.monotonic() + 60
            while not receiver.requests and time.monotonic() < deadline:
                time.sleep(0.2)
    (request,) = receiver.requests
    assert request.json()["text"].endswith("New bug: ValueError in live")
