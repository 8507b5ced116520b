"""Delivery against a real local HTTP server: headers, the bounded queue, 429 back-off, failures, exit."""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator

import logcenter_sdk
import pytest
from logcenter_sdk import Stats

from tests.sdk.fake_server import FakeLogCenter, Reply


def test_a_report_is_posted_as_json_with_the_sdks_headers(fake_server: FakeLogCenter) -> None:
    logcenter_sdk.init(fake_server.url, "rtc_backend", "production")
    assert logcenter_sdk.capture_exception(ValueError("boom")) is True
    assert logcenter_sdk.flush(5) is True
    [request] = fake_server.wait_for(1)
    assert (request.method, request.path) == ("POST", "/api/v1/logs/report")
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["User-Agent"] == f"logcenter-client/{logcenter_sdk.__version__}"
    assert "X-Logcenter-Key" not in request.headers
    assert request.body["error"]["type"] == "ValueError"
    assert logcenter_sdk.get_client().stats() == Stats(sent=1)  # type: ignore[union-attr]


def test_each_report_carries_an_idempotency_key_of_its_own(fake_server: FakeLogCenter) -> None:
    logcenter_sdk.init(fake_server.url, "p", "test")
    logcenter_sdk.capture_message("a")
    logcenter_sdk.capture_message("b")
    assert logcenter_sdk.flush(5)
    keys = [r.headers["Idempotency-Key"] for r in fake_server.wait_for(2)]
    assert len(set(keys)) == 2 and all(len(k) == 32 and int(k, 16) >= 0 for k in keys)


def test_a_connection_closed_before_the_answer_is_retried_with_the_same_key(
    fake_server: FakeLogCenter,
) -> None:
    client = logcenter_sdk.init(fake_server.url, "p", "test")
    fake_server.replies.extend([Reply(drop=True), Reply(drop=True)])
    logcenter_sdk.capture_message("a")
    assert logcenter_sdk.flush(5)
    requests = fake_server.wait_for(3)
    assert len({r.headers["Idempotency-Key"] for r in requests}) == 1
    assert [r.body["error"]["message"] for r in requests] == ["a", "a", "a"]
    assert client.stats() == Stats(sent=1)


def test_a_connection_that_keeps_closing_fails_after_the_retries(fake_server: FakeLogCenter) -> None:
    client = logcenter_sdk.init(fake_server.url, "p", "test")
    fake_server.replies.extend([Reply(drop=True)] * 5)
    logcenter_sdk.capture_message("a")
    assert logcenter_sdk.flush(5)
    assert len(fake_server.requests) == 3
    assert client.stats() == Stats(failed=1)


def test_the_ingest_key_is_sent_when_configured(fake_server: FakeLogCenter) -> None:
    logcenter_sdk.init(fake_server.url, "rtc_backend", "production", ingest_key="k3y")
    logcenter_sdk.capture_message("hello")
    logcenter_sdk.flush(5)
    assert fake_server.wait_for(1)[0].headers["X-Logcenter-Key"] == "k3y"


def test_a_full_queue_drops_and_counts_instead_of_blocking(fake_server: FakeLogCenter) -> None:
    client = logcenter_sdk.init(fake_server.url, "p", "test", queue_size=2)
    fake_server.gate.clear()  # the server holds every request: Log Center is slow
    assert logcenter_sdk.capture_message("in flight")
    fake_server.wait_for(1)  # the worker is now blocked on the first request

    started = time.monotonic()
    queued = [logcenter_sdk.capture_exception(ValueError(n)) for n in range(9)]
    assert time.monotonic() - started < 0.5  # the host application never waited on the server
    assert queued == [True, True] + [False] * 7
    assert client.stats().dropped_queue_full == 7

    fake_server.gate.set()
    assert logcenter_sdk.flush(5)
    assert len(fake_server.requests) == 3
    assert client.stats() == Stats(sent=3, dropped_queue_full=7)


def test_429_stops_sending_until_retry_after_has_passed(fake_server: FakeLogCenter) -> None:
    client = logcenter_sdk.init(fake_server.url, "p", "test")
    fake_server.replies.append(Reply(429, {"Retry-After": "1"}, {"detail": "Too many reports"}))
    logcenter_sdk.capture_message("first")
    assert logcenter_sdk.flush(5)
    rate_limited_at = time.monotonic()

    # Inside the window: dropped on the spot, nothing reaches the server.
    assert logcenter_sdk.capture_message("during") is False
    assert client.stats().dropped_rate_limited == 2  # the refused report, and this one
    assert len(fake_server.requests) == 1

    time.sleep(max(0.0, rate_limited_at + 1.05 - time.monotonic()))
    assert logcenter_sdk.capture_message("after") is True
    assert logcenter_sdk.flush(5)
    assert [r.body["error"]["message"] for r in fake_server.wait_for(2)] == ["first", "after"]


def test_reports_queued_before_a_429_are_dropped_not_sent(fake_server: FakeLogCenter) -> None:
    client = logcenter_sdk.init(fake_server.url, "p", "test")
    fake_server.replies.append(Reply(429, {"Retry-After": "60"}))
    fake_server.gate.clear()
    logcenter_sdk.capture_message("refused")
    fake_server.wait_for(1)
    assert logcenter_sdk.capture_message("queued 1") and logcenter_sdk.capture_message("queued 2")
    fake_server.gate.set()
    assert logcenter_sdk.flush(5)
    assert len(fake_server.requests) == 1
    assert client.stats() == Stats(dropped_rate_limited=3)


def test_429_without_retry_after_backs_off_for_a_minute(fake_server: FakeLogCenter) -> None:
    logcenter_sdk.init(fake_server.url, "p", "test")
    fake_server.replies.append(Reply(429))
    logcenter_sdk.capture_message("refused")
    assert logcenter_sdk.flush(5)
    assert logcenter_sdk.capture_message("later") is False


@pytest.mark.parametrize(
    ("retry_after", "paused"),
    [
        ("1", 1.0),
        ("2.5", 2.5),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),  # an HTTP date in the past
        ("inf", 60.0),  # float() reads these; a pause for ever would silence the process for good
        ("nan", 60.0),
        ("1e400", 60.0),
        ("1 Jan 2026 00:00:00 +99999999999999999999", 60.0),  # past what datetime holds
        ("soon", 60.0),
        ("86400", 3600.0),  # capped: a wrong or hostile server cannot pause reporting for a day
    ],
)
def test_the_pause_after_a_429_is_what_retry_after_says_within_bounds(
    fake_server: FakeLogCenter, retry_after: str, paused: float
) -> None:
    client = logcenter_sdk.init(fake_server.url, "p", "test")
    fake_server.replies.append(Reply(429, {"Retry-After": retry_after}))
    before = time.monotonic()
    assert logcenter_sdk.capture_message("refused")
    assert logcenter_sdk.flush(5)
    after = time.monotonic()
    until = client._transport._blocked_until  # type: ignore[union-attr]
    assert before + paused - 0.01 <= until <= after + paused + 0.01
    assert client.stats() == Stats(dropped_rate_limited=1)


def test_a_forked_child_starts_with_an_empty_queue_and_flushes_its_own_reports(
    fake_server: FakeLogCenter,
) -> None:
    client = logcenter_sdk.init(fake_server.url, "p", "test")
    fake_server.gate.clear()  # the parent's first report is in flight and two more are queued at the fork
    assert logcenter_sdk.capture_message("parent in flight")
    fake_server.wait_for(1)
    assert logcenter_sdk.capture_message("parent queued 1") and logcenter_sdk.capture_message(
        "parent queued 2"
    )
    pid = os.fork()
    if pid == 0:  # the child: report once, flush, and say how it went in the exit code
        code = 3
        try:
            sent = logcenter_sdk.capture_message("child")
            code = 0 if sent and logcenter_sdk.flush(5) else 1
        finally:
            os._exit(code)
    fake_server.gate.set()
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0  # the child's flush did not wait for the parent's reports
    assert logcenter_sdk.flush(5)
    messages = sorted(r.body["error"]["message"] for r in fake_server.wait_for(4))
    # Each report once: the child did not send the parent's queue again.
    assert messages == ["child", "parent in flight", "parent queued 1", "parent queued 2"]
    assert client.stats() == Stats(sent=3)


def test_a_report_captured_when_no_thread_can_start_is_dropped_without_holding_flush(
    fake_server: FakeLogCenter, monkeypatch: pytest.MonkeyPatch
) -> None:
    logcenter_sdk.init(fake_server.url, "p", "test")

    def refuse(self: threading.Thread) -> None:
        raise RuntimeError("can't create new thread at interpreter shutdown")  # Python 3.12+, in atexit

    monkeypatch.setattr(threading.Thread, "start", refuse)
    assert logcenter_sdk.capture_message("at shutdown") is False
    started = time.monotonic()
    assert logcenter_sdk.flush(2) is True
    assert time.monotonic() - started < 0.5


def test_503_with_retry_after_backs_off_and_plain_5xx_is_a_failure(fake_server: FakeLogCenter) -> None:
    client = logcenter_sdk.init(fake_server.url, "p", "test")
    fake_server.replies.extend(
        [Reply(500, body={"detail": "Internal server error"}), Reply(503, {"Retry-After": "30"})]
    )
    logcenter_sdk.capture_message("a")
    logcenter_sdk.capture_message("b")
    assert logcenter_sdk.flush(5)
    assert client.stats() == Stats(failed=1, dropped_rate_limited=1)
    assert logcenter_sdk.capture_message("c") is False


@pytest.mark.parametrize("status", [401, 403, 413, 422])
def test_a_refused_report_is_counted_and_logged_once(
    fake_server: FakeLogCenter, status: int, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="logcenter_sdk")
    client = logcenter_sdk.init(fake_server.url, "p", "test")
    detail = {"detail": "Invalid request: error.type: field required", "errors": []}
    fake_server.replies.extend([Reply(status, body=detail), Reply(status, body=detail)])
    logcenter_sdk.capture_message("a")
    logcenter_sdk.capture_message("b")
    assert logcenter_sdk.flush(5)
    assert client.stats() == Stats(rejected=2)
    warnings = [r.getMessage() for r in caplog.records if r.name == "logcenter_sdk"]
    assert len(warnings) == 1
    assert f"answered {status}" in warnings[0] and "error.type: field required" in warnings[0]


def test_a_redirect_is_not_followed(fake_server: FakeLogCenter, caplog: pytest.LogCaptureFixture) -> None:
    client = logcenter_sdk.init(fake_server.url, "p", "test")
    fake_server.replies.append(Reply(301, {"Location": fake_server.url + "/elsewhere"}))
    logcenter_sdk.capture_message("a")
    assert logcenter_sdk.flush(5)
    # urllib would have re-sent it as a GET without the report.
    assert [r.method for r in fake_server.requests] == ["POST"]
    assert client.stats() == Stats(rejected=1)
    assert "configure that URL instead" in caplog.text


def test_the_server_being_down_does_not_affect_the_application(dead_url: str) -> None:
    client = logcenter_sdk.init(dead_url, "p", "test", timeout=3.0)

    def view() -> str:
        try:
            int("abc")
        except ValueError as exc:
            logcenter_sdk.capture_exception(exc)
            return "handled"
        return "unreachable"

    started = time.monotonic()
    assert [view() for _ in range(3)] == ["handled"] * 3
    assert time.monotonic() - started < 0.2
    assert logcenter_sdk.flush(timeout=2.0) is True  # refused connections fail fast
    assert time.monotonic() - started < 2.0
    assert client.stats() == Stats(failed=3)


@pytest.fixture
def silent_server() -> Iterator[str]:
    """A server that accepts connections and never answers (a hung Log Center)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"


def test_flush_returns_within_its_timeout_when_the_server_hangs(silent_server: str) -> None:
    client = logcenter_sdk.init(silent_server, "p", "test", timeout=1.0)
    assert logcenter_sdk.capture_message("a")
    started = time.monotonic()
    assert logcenter_sdk.flush(timeout=0.3) is False
    assert 0.25 <= time.monotonic() - started < 0.6
    # The request itself gives up after the SDK's timeout.
    assert logcenter_sdk.flush(timeout=3) is True
    assert client.stats() == Stats(failed=1)


def test_close_reports_what_it_could_not_send_and_stops_capturing(silent_server: str) -> None:
    client = logcenter_sdk.init(silent_server, "p", "test", timeout=1.0)
    for n in range(3):
        logcenter_sdk.capture_message(f"m{n}")
    started = time.monotonic()
    logcenter_sdk.close(timeout=0.2)
    assert time.monotonic() - started < 1.5  # the flush, then the in-flight request's timeout at most
    assert client.stats().dropped_at_close == 2
    assert logcenter_sdk.capture_message("after close") is False
    assert logcenter_sdk.get_client() is None


def test_a_failing_before_send_drops_the_report(fake_server: FakeLogCenter) -> None:
    def broken(report: object) -> None:
        raise RuntimeError("scrubber bug")

    client = logcenter_sdk.init(fake_server.url, "p", "test", before_send=broken)  # type: ignore[arg-type]
    assert logcenter_sdk.capture_exception(ValueError("x")) is False
    assert client.stats() == Stats(dropped_before_send=1)


def test_init_again_replaces_the_client_and_flushes_the_old_one(fake_server: FakeLogCenter) -> None:
    first = logcenter_sdk.init(fake_server.url, "first", "test")
    logcenter_sdk.capture_message("a")
    second = logcenter_sdk.init(fake_server.url, "second", "test")
    assert first.stats() == Stats(sent=1)
    logcenter_sdk.capture_message("b")
    assert logcenter_sdk.flush(5)
    assert [r.body["project_id"] for r in fake_server.requests] == ["first", "second"]
    assert logcenter_sdk.get_client() is second


def test_queued_reports_are_sent_at_interpreter_exit(fake_server: FakeLogCenter) -> None:
    script = textwrap.dedent(
        f"""
        import logcenter_sdk
        logcenter_sdk.init({fake_server.url!r}, "p", "test")
        try:
            {{}}["missing"]
        except KeyError as exc:
            logcenter_sdk.capture_exception(exc)
        # no flush: the atexit hook sends it
        """
    )
    subprocess.run([sys.executable, "-c", script], check=True, timeout=30)
    [request] = fake_server.wait_for(1)
    assert request.body["error"]["type"] == "KeyError"


def test_an_unhandled_exception_at_exit_does_not_hang_on_a_dead_server(dead_url: str) -> None:
    script = textwrap.dedent(
        f"""
        import logcenter_sdk
        logcenter_sdk.init({dead_url!r}, "p", "test")
        logcenter_sdk.capture_message("bye")
        raise SystemExit(3)
        """
    )
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-c", script], timeout=30)
    assert result.returncode == 3
    assert time.monotonic() - started < 5
