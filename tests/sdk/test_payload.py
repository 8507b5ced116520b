"""What the SDK puts in a report: the integration guide's fields, pointing at the right file and line."""

from __future__ import annotations

import json
import math
import re
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import logcenter_sdk
import pytest
from logcenter_sdk import Report

from tests.sdk.fake_server import FakeLogCenter

ROOT = Path(__file__).resolve().parents[2]
THIS_FILE = Path(__file__).resolve().relative_to(ROOT).as_posix()  # tests/sdk/test_payload.py
GUIDE_FIELDS = {"project_id", "environment", "level", "source", "timestamp", "error", "context"}
OPTIONAL_FIELDS = {"version", "commit_hash", "repo_url"}
ERROR_FIELDS = {"type", "message", "file_path", "line_number", "stack_trace"}


def lineno() -> int:
    """The caller's current line."""
    return sys._getframe(1).f_lineno


@pytest.fixture
def reports() -> list[Report]:
    """Reports as they would be sent, kept by before_send (which then drops them: no network needed)."""
    seen: list[Report] = []

    def keep(report: Report) -> None:
        seen.append(json.loads(json.dumps(report)))  # exactly what would go over the wire

    logcenter_sdk.init(
        "http://127.0.0.1:9", "rtc_backend", "production", root_path=str(ROOT), before_send=keep
    )
    return seen


def load_library(tmp_path: Path, source: str) -> dict[str, Any]:
    """Functions defined in a file under a site-packages directory: third-party code to the SDK."""
    path = tmp_path / "site-packages" / "fakelib" / "core.py"
    path.parent.mkdir(parents=True)
    path.write_text(source)
    namespace: dict[str, Any] = {}
    exec(compile(source, str(path), "exec"), namespace)
    return namespace


def test_exception_report_has_exactly_the_guides_fields(reports: list[Report]) -> None:
    try:
        raising_line = lineno() + 1
        int("abc")
    except ValueError as exc:
        assert logcenter_sdk.capture_exception(exc, {"url": "/api/users/123", "method": "GET"}) is False

    [report] = reports
    assert set(report) == GUIDE_FIELDS
    assert report["project_id"] == "rtc_backend"
    assert report["environment"] == "production"
    assert report["level"] == "ERROR"
    assert report["source"] == "runtime"
    assert report["context"] == {"url": "/api/users/123", "method": "GET"}
    error = report["error"]
    assert set(error) == ERROR_FIELDS
    assert error["type"] == "ValueError"
    assert error["message"] == "invalid literal for int() with base 10: 'abc'"
    assert error["file_path"] == THIS_FILE
    assert error["line_number"] == raising_line
    assert error["stack_trace"][0] == "Traceback (most recent call last):"
    function = "test_exception_report_has_exactly_the_guides_fields"
    assert f'  File "{ROOT / THIS_FILE}", line {raising_line}, in {function}' in error["stack_trace"]
    assert error["stack_trace"][-1] == "ValueError: invalid literal for int() with base 10: 'abc'"
    assert all("\n" not in line for line in error["stack_trace"])


def test_timestamp_is_utc_iso_8601_at_capture_time(reports: list[Report]) -> None:
    before = datetime.now(UTC)
    logcenter_sdk.capture_exception(RuntimeError("x"))
    stamp = reports[0]["timestamp"]
    assert stamp.endswith("Z")
    parsed = datetime.fromisoformat(stamp)
    assert parsed.utcoffset() == timedelta(0)
    assert before - timedelta(milliseconds=1) <= parsed <= datetime.now(UTC)


def test_optional_fields_are_sent_when_configured() -> None:
    seen: list[Report] = []
    logcenter_sdk.init(
        "http://127.0.0.1:9",
        "rtc_backend",
        "staging",
        release="1.2.3",  # Sentry's name for the guide's version
        commit_hash="abc1234",
        repo_url="https://gitea.example.com/team/rtc_backend.git",
        level="warning",
        before_send=lambda report: seen.append(report),
    )
    logcenter_sdk.capture_exception(KeyError("id"))
    [report] = seen
    assert set(report) == GUIDE_FIELDS | OPTIONAL_FIELDS
    assert (report["version"], report["commit_hash"]) == ("1.2.3", "abc1234")
    assert report["repo_url"] == "https://gitea.example.com/team/rtc_backend.git"
    assert report["level"] == "WARNING"


def test_the_raising_frame_is_the_last_one_in_the_app_not_in_a_library(
    reports: list[Report], tmp_path: Path
) -> None:
    lib = load_library(tmp_path, "def parse(text):\n    return int(text)\n")
    try:
        calling_line = lineno() + 1
        lib["parse"]("abc")
    except ValueError as exc:
        logcenter_sdk.capture_exception(exc)
    error = reports[0]["error"]
    assert (error["file_path"], error["line_number"]) == (THIS_FILE, calling_line)
    # The trace still shows where it really happened.
    assert f'  File "{tmp_path}/site-packages/fakelib/core.py", line 2, in parse' in error["stack_trace"]


def test_standard_library_frames_are_not_the_raising_frame(reports: list[Report]) -> None:
    try:
        calling_line = lineno() + 1
        json.loads("{")
    except json.JSONDecodeError as exc:
        logcenter_sdk.capture_exception(exc)
    error = reports[0]["error"]
    assert (error["type"], error["file_path"], error["line_number"]) == (
        "JSONDecodeError",
        THIS_FILE,
        calling_line,
    )


def test_without_app_frames_the_last_frame_is_used_with_its_absolute_path(
    reports: list[Report], tmp_path: Path
) -> None:
    source = (
        "def parse(text):\n    return int(text)\n\n"
        "def safely(fn, arg):\n    try:\n        fn(arg)\n    except ValueError as exc:\n        return exc\n"
    )
    lib = load_library(tmp_path, source)
    logcenter_sdk.capture_exception(lib["safely"](lib["parse"], "abc"))
    error = reports[0]["error"]
    assert (error["file_path"], error["line_number"]) == (f"{tmp_path}/site-packages/fakelib/core.py", 2)


def test_chained_exceptions_keep_the_whole_chain_and_point_at_the_last_raise(reports: list[Report]) -> None:
    try:
        try:
            {}["id"]
        except KeyError as exc:
            raising_line = lineno() + 1
            raise LookupError("user not found") from exc
    except LookupError as exc:
        logcenter_sdk.capture_exception(exc)
    error = reports[0]["error"]
    assert (error["type"], error["line_number"]) == ("LookupError", raising_line)
    assert "The above exception was the direct cause of the following exception:" in error["stack_trace"]
    assert error["stack_trace"][-1] == "LookupError: user not found"


def test_capture_exception_without_argument_reports_the_exception_being_handled(
    reports: list[Report],
) -> None:
    try:
        1 / 0  # noqa: B018
    except ZeroDivisionError:
        assert logcenter_sdk.capture_exception() is False  # dropped by before_send, but built
    assert reports[0]["error"]["type"] == "ZeroDivisionError"
    assert logcenter_sdk.capture_exception() is False  # nothing being handled: nothing to report
    assert len(reports) == 1


def test_an_exception_that_was_never_raised_points_at_the_capturing_line(reports: list[Report]) -> None:
    capturing_line = lineno() + 1
    logcenter_sdk.report_error(PermissionError("quota exceeded"), {"user_id": "u_1"})
    error = reports[0]["error"]
    assert (error["file_path"], error["line_number"]) == (THIS_FILE, capturing_line)
    assert error["stack_trace"][-1] == "PermissionError: quota exceeded"
    assert reports[0]["context"] == {"user_id": "u_1"}


def test_capture_message_is_grouped_by_the_calling_line(reports: list[Report]) -> None:
    calling_line = lineno() + 1
    logcenter_sdk.capture_message("payment provider timed out", {"order": 7}, level="critical")
    [report] = reports
    assert report["level"] == "CRITICAL"
    error = report["error"]
    assert (error["type"], error["message"]) == ("Message", "payment provider timed out")
    assert (error["file_path"], error["line_number"]) == (THIS_FILE, calling_line)
    assert any("test_capture_message_is_grouped_by_the_calling_line" in line for line in error["stack_trace"])


def test_an_exception_is_reported_once_however_many_integrations_see_it(reports: list[Report]) -> None:
    exc = ValueError("boom")
    logcenter_sdk.capture_exception(exc)
    logcenter_sdk.capture_exception(exc)
    logcenter_sdk.report_error(exc, None)
    assert len(reports) == 1


def test_files_outside_root_path_are_reported_with_their_absolute_path(tmp_path: Path) -> None:
    seen: list[Report] = []
    logcenter_sdk.init("http://127.0.0.1:9", "p", "test", root_path=str(tmp_path), before_send=seen.append)
    try:
        raise RuntimeError("x")
    except RuntimeError as exc:
        logcenter_sdk.capture_exception(exc)
    assert seen[0]["error"]["file_path"] == str(ROOT / THIS_FILE)


class Unprintable(Exception):
    def __str__(self) -> str:
        raise RuntimeError("no str for you")


class Opaque:
    def __repr__(self) -> str:
        return "<Opaque>"


def test_awkward_exceptions_and_contexts_still_make_a_valid_report(reports: list[Report]) -> None:
    loop: dict[str, Any] = {}
    loop["self"] = loop
    context = {"obj": Opaque(), "nan": math.nan, "tuple": (1, 2), 3: "int key", "loop": loop, "set": {"a"}}
    logcenter_sdk.capture_exception(Unprintable(), context)
    [report] = reports
    assert report["error"]["message"] == "<Unprintable str() failed>"
    ctx = report["context"]
    assert (ctx["obj"], ctx["nan"], ctx["tuple"], ctx["3"], ctx["set"]) == (
        "<Opaque>",
        "nan",
        [1, 2],
        "int key",
        ["a"],
    )
    assert "<too deep>" in json.dumps(ctx["loop"])


def test_integers_past_64_bits_and_odd_class_names_still_make_a_valid_report(reports: list[Report]) -> None:
    odd = type("Bad\x07Name", (Exception,), {})
    nameless = type("", (Exception,), {})
    logcenter_sdk.capture_exception(odd("x"), {"order_id": 2**64, "small": -(2**63), "big": 2**64 - 1})
    logcenter_sdk.capture_exception(nameless("y"))
    # What the server's schema refuses: a JSON integer it cannot store, control characters or an empty type.
    assert reports[0]["context"] == {"order_id": str(2**64), "small": -(2**63), "big": 2**64 - 1}
    assert [r["error"]["type"] for r in reports] == ["BadName", "Exception"]


class Frozen(Exception):
    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("read-only")


def test_an_exception_that_cannot_be_marked_is_still_reported(reports: list[Report]) -> None:
    logcenter_sdk.capture_exception(Frozen("x"))
    assert [r["error"]["type"] for r in reports] == ["Frozen"]


def test_a_context_that_is_not_a_dict_is_replaced_by_an_empty_one(reports: list[Report]) -> None:
    logcenter_sdk.capture_exception(ValueError("x"), ["not", "a", "dict"])  # type: ignore[arg-type]
    assert reports[0]["context"] == {}


def test_long_messages_and_traces_are_clipped_to_fit_the_server(reports: list[Report]) -> None:
    # A message of 1,000 lines makes a 1,000-line trace (format_exception prints it whole).
    message = "\n".join(f"line {n} " + "x" * 2_000 for n in range(1_000))
    logcenter_sdk.capture_exception(ValueError(message))
    error = reports[0]["error"]
    assert len(error["message"]) == 8_192
    assert error["message"].endswith("…")
    trace = error["stack_trace"]
    assert len(trace) == 50 + 1 + 350
    assert re.fullmatch(r"\.\.\. \d+ lines omitted \.\.\.", trace[50])
    assert trace[-1].startswith("line 999 xxx")
    assert max(len(line) for line in trace) == 1_000


def test_a_context_too_large_for_the_server_is_replaced_by_a_note(fake_server: FakeLogCenter) -> None:
    logcenter_sdk.init(fake_server.url, "p", "test")
    assert logcenter_sdk.capture_exception(ValueError("x"), {"blob": "y" * 950_000})
    assert logcenter_sdk.flush(5)
    [request] = fake_server.wait_for(1)
    assert request.body["context"] == {"logcenter_sdk": "context dropped: report larger than 1 MB"}
    assert request.body["error"]["type"] == "ValueError"


def test_before_send_can_scrub_a_report(fake_server: FakeLogCenter) -> None:
    def scrub(report: Report) -> Report:
        report["context"].pop("password", None)
        return report

    logcenter_sdk.init(fake_server.url, "p", "test", before_send=scrub)
    logcenter_sdk.capture_exception(ValueError("x"), {"password": "hunter2", "user": "u_1"})
    assert logcenter_sdk.flush(5)
    assert fake_server.wait_for(1)[0].body["context"] == {"user": "u_1"}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"url": "localhost:8002"}, r"url must be an http\(s\) base URL"),
        ({"project_id": "rtc backend"}, "project_id must be"),
        ({"environment": ""}, "environment must be"),
        ({"version": "1", "release": "2"}, "either version or release"),
        ({"commit_hash": "abc 123"}, "commit_hash must be"),
        ({"level": "LOUD"}, "unknown level"),
        ({"queue_size": 0}, "queue_size"),
        ({"timeout": 0}, "timeout"),
        ({"version": "1.2.3\n"}, "version must be"),
        ({"release": "v" * 201}, "version must be"),
        ({"repo_url": "https://git.example.com/" + "r" * 480}, "repo_url must be"),
        ({"ingest_key": "k3y\n"}, "ingest_key must be"),  # a key read from a file with its newline
        ({"ingest_key": "clé"}, "ingest_key must be"),
    ],
)
def test_init_refuses_options_the_server_would_reject(kwargs: dict[str, Any], message: str) -> None:
    args: dict[str, Any] = {"url": "http://localhost:8002", "project_id": "rtc_backend", "environment": "dev"}
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        logcenter_sdk.init(**args)


@pytest.mark.parametrize("suffix", ["", "/", "/api/v1/logs/report"])
def test_the_url_is_the_servers_base_url_or_the_endpoint_itself(
    fake_server: FakeLogCenter, suffix: str
) -> None:
    logcenter_sdk.init(fake_server.url + suffix, "p", "dev")
    logcenter_sdk.capture_message("x")
    assert logcenter_sdk.flush(5)
    assert fake_server.wait_for(1)[0].path == "/api/v1/logs/report"


@pytest.mark.parametrize(
    "capture",
    [
        lambda: logcenter_sdk.capture_exception(ValueError("x")),
        lambda: logcenter_sdk.capture_message("x"),
        lambda: logcenter_sdk.report_error(ValueError("x"), None),
    ],
)
def test_without_init_or_with_an_empty_url_nothing_is_reported(capture: Callable[[], bool]) -> None:
    assert capture() is False
    client = logcenter_sdk.init("", "p", "dev")  # e.g. LOG_CENTER_URL unset in development
    assert not client.enabled
    assert capture() is False
    assert logcenter_sdk.flush(0.1) is True
