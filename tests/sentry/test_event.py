"""Sentry event → Report: real SDK events and the shapes a tolerant parser must accept."""

from __future__ import annotations

import gzip
import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from logcenter.errors import BadRequest
from logcenter.ingest.report import Report
from logcenter.ingest.sentry.envelope import EnvelopeParser
from logcenter.ingest.sentry.event import event_id_of, to_report
from logcenter.ingest.sentry.payload import MAX_DEPTH, parse_event

SAMPLES = Path(__file__).parent / "samples"
NOW = datetime(2026, 11, 22, 4, 0, tzinfo=UTC)  # an hour after the samples were captured
EVENT_ID = "9ec79c33ec9942ab8353589fcb2e04dc"


def md5(*parts: object) -> str:
    return hashlib.md5("|".join(str(p) for p in parts).encode()).hexdigest()


def sample_event(name: str) -> dict[str, Any]:
    data = (SAMPLES / name).read_bytes()
    parser = EnvelopeParser(max_item_bytes=1 << 20)
    parser.feed(gzip.decompress(data) if name.endswith(".gz") else data)
    return parse_event(parser.finish().event)


def report(event: dict[str, Any], **kwargs: Any):
    return to_report(
        event,
        project_pk=7,
        project_slug="shop",
        event_id=EVENT_ID,
        now=NOW,
        max_skew=timedelta(seconds=60),
        **kwargs,
    )


def data_of(report: Report) -> dict[str, Any]:
    """The report's `data`, as JSON text, read back."""
    return orjson.loads(report.data)


def frame(filename: str, lineno: int, *, in_app: bool | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "filename": filename,
        "lineno": lineno,
        "function": "f",
        **({"in_app": in_app} if in_app is not None else {}),
        **extra,
    }


def exception_event(*frames: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {
        "exception": {
            "values": [{"type": "KeyError", "value": "'id'", "stacktrace": {"frames": list(frames)}}]
        },
        **fields,
    }


def test_sentry_python_exception():
    r = report(sample_event("python-exception.envelope"))
    assert (r.project_pk, r.project_slug, r.event_id, r.source) == (7, "shop", EVENT_ID, "runtime")
    assert (r.error_type, r.message) == ("RuntimeError", "payment failed")  # the last (raised) value
    assert (r.file_path, r.line_number) == ("capture.py", 22)
    assert r.fingerprint == md5("shop", "RuntimeError", "capture.py", 22)  # the guide's runtime formula
    assert (r.level, r.environment, r.version, r.commit_hash) == ("ERROR", "staging", "shop@1.4.2", None)
    assert r.timestamp == datetime(2026, 11, 22, 3, 0, 3, 422108, tzinfo=UTC)
    assert r.stack_trace.splitlines() == [
        "Traceback (most recent call last):",
        '  File "capture.py", line 20, in charge',
        '    parse_amount(order["amount"])',
        '  File "capture.py", line 16, in parse_amount',
        "    return int(text)",
        "ValueError: invalid literal for int() with base 10: '12x'",
        "",
        "The exception above led to the following exception:",
        "",
        "Traceback (most recent call last):",
        '  File "capture.py", line 25, in <module>',
        '    charge({"amount": "12x"})',
        '  File "capture.py", line 22, in charge',
        '    raise RuntimeError("payment failed") from exc',
        "RuntimeError: payment failed",
    ]
    assert orjson.loads(r.context) == {"user_id": "42"}
    assert data_of(r)["tags"] == {"region": "eu"}
    assert data_of(r)["user"] == {"id": 42, "email": "a@example.com"}
    assert data_of(r)["breadcrumbs"][-1]["message"] == "login"
    assert data_of(r)["mechanism"] == {"type": "generic", "handled": True}
    assert {"platform", "sdk", "server_name", "contexts", "extra"} <= data_of(r).keys()


def test_sentry_python_logging_message_groups_by_template():
    event = sample_event("python-message.envelope")
    r = report(event)
    assert (r.error_type, r.message, r.level) == ("shop.payments", "Charge failed for order 1234", "ERROR")
    assert (r.file_path, r.line_number, r.stack_trace) == (None, None, "")
    assert r.fingerprint == md5("shop", "custom", "shop.payments", "Charge failed for order %s")
    event["logentry"] = {"message": "Charge failed for order %s", "formatted": "Charge failed for order 99"}
    assert report(event).fingerprint == r.fingerprint


def test_messages_without_template_group_with_numbers_and_ids_masked():
    a = report({"message": "Order 1234 failed after 3 tries (req 550e8400-e29b-41d4-a716-446655440000)"})
    b = report({"message": "Order 77 failed after 12 tries (req 6ba7b810-9dad-11d1-80b4-00c04fd430c8)"})
    c = report({"message": "Order 77 was refunded"})
    assert (a.error_type, a.level) == ("Message", "ERROR")
    assert a.fingerprint == b.fingerprint != c.fingerprint
    assert a.message.startswith("Order 1234")  # shown as sent; only the grouping key is masked


def test_node_exception_without_length_and_with_columns():
    r = report(sample_event("node-exception.envelope"))
    assert (r.error_type, r.file_path, r.line_number) == ("SyntaxError", "/tmp/jsenv/capture.mjs", 17)
    assert '  File "/tmp/jsenv/capture.mjs", line 17, column 44, in parseConfig' in r.stack_trace
    assert r.timestamp == datetime(2026, 11, 22, 3, 1, 17, 918000, tzinfo=UTC)  # epoch seconds


def test_js_capture_message_with_a_synthetic_exception_is_a_message_event():
    r = report(sample_event("node-message.envelope"))
    assert (r.error_type, r.message, r.level) == ("Message", "Cache miss for user 981", "WARNING")
    assert (r.file_path, r.line_number) == ("/tmp/jsenv/capture.mjs", 20)
    assert r.stack_trace.startswith("Stack (most recent call last):")
    assert r.fingerprint == md5("shop", "custom", "Message", "Cache miss for user <*>")


def test_a_rejected_value_that_is_not_an_error_is_grouped_by_its_value_not_placed_in_the_sdk():
    # @sentry/node 11.12.0, `Promise.reject({ code: "E_QUOTA", detail: "..." })`: a synthetic Error whose
    # stack is the SDK's onunhandledrejection handler and node internals, none of it in-app.
    event = sample_event("node-rejection.envelope")
    r = report(event)
    assert (r.error_type, r.message) == ("Error", "Object captured as exception with keys: code, detail")
    assert (r.file_path, r.line_number) == (None, None)
    assert r.fingerprint == md5(
        "shop", "custom", "Error", "Object captured as exception with keys: code, detail"
    )
    assert "onunhandledrejection.js" in r.stack_trace  # still shown, for what it is worth
    other = orjson.loads(orjson.dumps(event))
    other["exception"]["values"][0]["value"] = "socket hang up"
    assert report(other).fingerprint != r.fingerprint
    # A synthetic exception thrown from the app's own code keeps the app's frame.
    other["exception"]["values"][0]["stacktrace"]["frames"].append(frame("/srv/api/pay.js", 7, in_app=True))
    assert (report(other).file_path, report(other).line_number) == ("/srv/api/pay.js", 7)


def test_an_exception_without_frames_is_grouped_by_its_value():
    # @sentry/browser 11.12.0, `Promise.reject("offline")`: no stack at all.
    def rejected(value: str) -> Report:
        mechanism = {"type": "auto.browser.global_handlers.onunhandledrejection", "handled": False}
        return report(
            {
                "exception": {
                    "values": [{"type": "UnhandledRejection", "value": value, "mechanism": mechanism}]
                }
            }
        )

    offline = rejected("Non-Error promise rejection captured with value: offline")
    assert (offline.error_type, offline.file_path, offline.line_number) == ("UnhandledRejection", None, None)
    assert offline.fingerprint == md5(
        "shop", "custom", "UnhandledRejection", "Non-Error promise rejection captured with value: offline"
    )
    timeout = rejected("Non-Error promise rejection captured with value: timed out after 30 s")
    assert timeout.fingerprint != offline.fingerprint
    assert (
        timeout.fingerprint
        == rejected("Non-Error promise rejection captured with value: timed out after 60 s").fingerprint
    )


def test_raising_frame_is_the_last_in_app_frame_else_the_last_frame():
    app_frames = [
        frame("app/a.py", 1, in_app=True),
        frame("app/b.py", 2, in_app=True),
        frame("lib/c.py", 3, in_app=False),
    ]
    assert (
        report(exception_event(*app_frames)).file_path,
        report(exception_event(*app_frames)).line_number,
    ) == ("app/b.py", 2)
    no_app = [frame("lib/a.py", 1), frame("lib/b.py", 2)]
    assert report(exception_event(*no_app)).file_path == "lib/b.py"
    only_abs = {"abs_path": "/srv/app/x.py", "lineno": 5}
    assert report(exception_event(only_abs)).file_path == "/srv/app/x.py"
    only_module = {"module": "app.x", "lineno": 5}
    assert report(exception_event(only_module)).file_path == "app.x"


def test_exception_without_frames_still_groups():
    r = report({"exception": [{"type": "SIGSEGV"}]})  # the older flat-list shape
    assert (r.error_type, r.message, r.file_path, r.line_number) == ("SIGSEGV", "", None, None)
    assert r.fingerprint == md5("shop", "SIGSEGV", "", 0)
    assert r.stack_trace == "SIGSEGV"


@pytest.mark.parametrize(
    ("sent", "expected"),
    [
        (None, "runtime"),
        ([], "runtime"),
        (["{{ default }}"], "runtime"),
        (["{{default}}"], "runtime"),
        (["myrpc", "POST", "/foo.bar"], ["myrpc", "POST", "/foo.bar"]),
        (
            ["{{ default }}", "http://example.com/my.url"],
            ["KeyError", "app/a.py", "3", "http://example.com/my.url"],
        ),
        (["tenant", 42], ["tenant", "42"]),
    ],
)
def test_fingerprint_arrays(sent, expected):
    r = report(exception_event(frame("app/a.py", 3), fingerprint=sent))
    if expected == "runtime":
        assert r.fingerprint == md5("shop", "KeyError", "app/a.py", 3)
    else:
        assert r.fingerprint == md5("shop", "custom", *expected)
        assert data_of(r)["fingerprint"] == sent


@pytest.mark.parametrize(
    ("level", "expected"),
    [
        ("fatal", "CRITICAL"),
        ("error", "ERROR"),
        ("warning", "WARNING"),
        ("info", "INFO"),
        ("debug", "DEBUG"),
        ("WARN", "WARNING"),
        (None, "ERROR"),
        ("bogus", "ERROR"),
        (3, "ERROR"),
    ],
)
def test_levels(level, expected):
    assert report({"message": "m", "level": level}).level == expected


def test_defaults_and_coercions():
    r = report({"message": "m", "release": 20240101, "environment": ""})
    assert (r.environment, r.version, r.commit_hash) == ("production", "20240101", None)
    sha = "0c3a3d1c4f3c2b1a0d9e8f7a6b5c4d3e2f1a0b9c"
    assert report({"message": "m", "release": sha}).commit_hash == sha
    assert report({"message": "m", "release": f"api@{sha.upper()}"}).commit_hash == sha
    assert report({}).message == "<unlabeled event>"


@pytest.mark.parametrize(
    ("sent", "expected"),
    [
        ("2026-11-22T03:59:00Z", datetime(2026, 11, 22, 3, 59, tzinfo=UTC)),
        ("2026-11-22T03:59:00.123456789+01:00", datetime(2026, 11, 22, 2, 59, 0, 123456, tzinfo=UTC)),
        ("2026-11-22T03:59:00", datetime(2026, 11, 22, 3, 59, tzinfo=UTC)),
        (NOW.timestamp() - 60.5, NOW - timedelta(seconds=60.5)),
        (NOW.timestamp() + 3600, NOW),  # clock ahead: clamped
        ("yesterday", NOW),
        ("0001-01-01T00:00:00+01:00", NOW),  # before datetime's range once in UTC: was a 500
        ("9999-12-31T23:59:59-01:00", NOW),
        (1e300, NOW),
        (True, NOW),
    ],
)
def test_timestamps(sent, expected):
    assert report({"message": "m", "timestamp": sent}).timestamp == expected


def test_columns_are_clamped_not_rejected():
    long = "x" * 5000
    r = report(
        exception_event(frame(long, 1), environment=long, release=long)
        | {"exception": [{"type": long, "stacktrace": {"frames": [frame(long, 1)]}}]}
    )
    assert (len(r.error_type), len(r.file_path), len(r.environment), len(r.version)) == (300, 1024, 64, 200)


def test_context_and_data_in_the_guides_style():
    event = {
        "message": "m",
        "request": {"url": "https://shop.example/cart", "method": "POST", "headers": [["Accept", "*/*"]]},
        "user": {"id": "u_1", "ip_address": "{{auto}}"},
        "tags": [["browser", "Firefox"], ["bad"], ["n", 3]],
        "breadcrumbs": [{"message": str(i)} for i in range(150)],
        "transaction": "/cart",
        "logger": "",
        "modules": {"django": "5.0"},
    }
    r = report(event)
    assert orjson.loads(r.context) == {"url": "https://shop.example/cart", "method": "POST", "user_id": "u_1"}
    assert data_of(r)["tags"] == {"browser": "Firefox", "n": "3"}
    assert [b["message"] for b in data_of(r)["breadcrumbs"]] == [str(i) for i in range(50, 150)]
    assert data_of(r)["request"]["headers"] == [["Accept", "*/*"]]
    assert data_of(r)["transaction"] == "/cart"
    assert "logger" not in data_of(r) and "modules" not in data_of(r)
    crumbs = data_of(report({"message": "m", "breadcrumbs": {"values": [{"message": "a"}]}}))["breadcrumbs"]
    assert crumbs == [{"message": "a"}]


def test_logger_exception_keeps_the_log_message():
    event = exception_event(
        frame("app/a.py", 3), logentry={"message": "Charge failed", "formatted": "Charge failed"}
    )
    assert data_of(report(event))["message"] == "Charge failed"


def test_percent_templates_are_never_expanded():
    r = report({"logentry": {"message": "%999999999d", "params": [1]}})
    assert r.message == "%999999999d"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("9EC79C33EC9942AB8353589FCB2E04DC", EVENT_ID),
        ("9ec79c33-ec99-42ab-8353-589fcb2e04dc", EVENT_ID),
    ],
)
def test_event_ids(value, expected):
    assert event_id_of(value) == expected


@pytest.mark.parametrize(
    "value", ["", "xyz", "9ec79c33ec9942ab8353589fcb2e04dz", 42, "9ec79c33ec9942ab8353589fcb2e04dc00"]
)
def test_malformed_event_ids_are_400(value):
    with pytest.raises(BadRequest, match="Invalid event_id"):
        event_id_of(value)


def test_payload_repair_nul_surrogates_nan_big_ints_and_depth():
    deep = b'{"d":' * 300 + b'"leaf"' + b"}" * 300  # deeper than orjson will serialise
    raw = (
        b'{"message":"a\\u0000b","extra":{"k\\u0000":"\\ud800x","nan":NaN,"inf":-Infinity,"big":'
        + b"1" * 30
        + b',"deep":'
        + deep
        + b"}}"
    )
    event = parse_event(raw)
    assert event["message"] == "a\ufffdb"
    extra = event["extra"]
    assert extra["k\ufffd"] == "\ufffdx"
    assert extra["nan"] is None and extra["inf"] is None
    assert extra["big"] == "1" * 30
    depth, node = 0, extra["deep"]
    while isinstance(node, dict):
        node, depth = node["d"], depth + 1
    assert node == "[nested too deep]" and depth == MAX_DEPTH - 2
    orjson.dumps(event)  # what the writer will do with it
    assert report(event).message == "a\ufffdb"


@pytest.mark.parametrize("raw", [b"", b"[1]", b'"event"', b"{", b"\xff\xfe", b"{}" * 2, b"[" * 100_000])
def test_invalid_event_json_is_400(raw):
    with pytest.raises(BadRequest, match="Invalid event JSON"):
        parse_event(raw)


def test_payloads_orjson_reads_are_repaired_too():
    assert parse_event(b'{"message":"a\\u0000b"}') == {"message": "a\ufffdb"}
    deep = parse_event(b'{"extra":' + b'{"d":' * 300 + b"1" + b"}" * 301)
    orjson.dumps(deep)
    assert parse_event(b'{"message":"fine","n":1}') == {"message": "fine", "n": 1}
