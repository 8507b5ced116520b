"""`load_event` reads only what the mapping needs: the Report must be the one the whole event gives, whatever
the SDK sent."""

from __future__ import annotations

import gzip
import json
from datetime import timedelta
from typing import Any

import orjson
import pytest

from logcenter.errors import BadRequest
from logcenter.ingest.report import Report
from logcenter.ingest.sentry.envelope import EnvelopeParser
from logcenter.ingest.sentry.payload import load_event, parse_event, report_from
from tests.sentry.test_event import EVENT_ID, NOW, SAMPLES, frame, report

EVENT_SAMPLES = [
    "python-exception.envelope",
    "python-message.envelope",
    "node-exception.envelope",
    "node-message.envelope",
    "node-large.envelope.gz",
]


def sample_payload(name: str) -> bytes:
    data = (SAMPLES / name).read_bytes()
    parser = EnvelopeParser(max_item_bytes=1 << 20)
    parser.feed(gzip.decompress(data) if name.endswith(".gz") else data)
    event = parser.finish().event
    assert event is not None
    return event


def ingested(payload: bytes) -> Report:
    """What the Sentry endpoints make of an event's bytes."""
    return report_from(
        payload,
        project_pk=7,
        project_slug="shop",
        header_event_id=EVENT_ID,
        now=NOW,
        max_skew=timedelta(seconds=60),
    )


def whole(payload: bytes) -> Report:
    """The Report of the whole event, repaired where it must be."""
    return report(parse_event(payload))


@pytest.mark.parametrize("name", EVENT_SAMPLES)
def test_real_sdk_events_give_the_report_of_the_whole_event(name):
    payload = sample_payload(name)
    assert ingested(payload) == whole(payload)


def test_real_sdk_events_are_read_without_what_the_report_does_not_keep():
    event = load_event(sample_payload("python-exception.envelope"))
    assert "modules" in orjson.loads(sample_payload("python-exception.envelope"))
    assert "modules" not in event
    frames = event["exception"]["values"][-1]["stacktrace"]["frames"]
    assert frames and all("vars" not in f and "pre_context" not in f for f in frames)


def _exception(*frames: Any, **fields: Any) -> dict[str, Any]:
    return {"type": "KeyError", "value": "'id'", "stacktrace": {"frames": list(frames)}, **fields}


SHAPES: dict[str, dict[str, Any]] = {
    "exception as a list": {"exception": [_exception(frame("app/a.py", 3, in_app=True))]},
    "a frame that is not an object": {"exception": {"values": [_exception("junk", frame("app/a.py", 4))]}},
    "frames null": {"exception": {"values": [_exception(stacktrace={"frames": None})]}},
    "stacktrace a string": {"exception": {"values": [_exception(stacktrace="at a.py:3")]}},
    "values null": {"exception": {"values": None}, "message": "fell through"},
    "exception a string": {"exception": "boom", "message": "fell through"},
    "loosely typed frame fields": {
        "exception": {"values": [_exception(frame("app/a.py", "12", in_app="true", colno=True))]}
    },
    "chained exceptions with mechanisms": {
        "exception": {
            "values": [
                _exception(frame("app/a.py", 3), mechanism={"type": "chained", "source": "__cause__"}),
                _exception(frame("app/b.py", 9, in_app=True), mechanism={"handled": False}),
            ]
        }
    },
    "attach_stacktrace message": {
        "message": "order 12 failed",
        "logger": "shop.orders",
        "stacktrace": {"frames": [frame("app/orders.py", 40, in_app=True)]},
    },
    "message from a thread's stack": {
        "logentry": {"message": "retry %s", "formatted": "retry 3", "params": [3]},
        "threads": {"values": [{"current": True, "stacktrace": {"frames": [frame("app/t.py", 8)]}}]},
    },
    "kept attributes and tags as pairs": {
        "message": "x",
        "tags": [["browser", "Firefox"], ["n", 2]],
        "user": {"id": 42, "email": "a@b.c"},
        "request": {"url": "https://shop/cart", "method": "POST", "headers": {"X": "y"}},
        "contexts": {"os": {"name": "Linux"}},
        "extra": {"big": 2**70, "list": [1, {"a": None}]},
        "breadcrumbs": {"values": [{"message": "click"}, "not an object"]},
        "sdk": {"name": "sentry.javascript.browser", "version": "8.0.0"},
        "fingerprint": ["{{ default }}", "checkout"],
        "release": 12,
        "environment": "staging",
        "level": "warning",
        "timestamp": 1764000000.5,
        "platform": "javascript",
        "server_name": "",
        "transaction": "/cart",
        "dist": "7",
        "modules": {"django": "5.2"},
    },
    "repeated keys: the last one wins": {"message": "first", "level": "info"},
}


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_any_shape_gives_the_report_of_the_whole_event(shape):
    payload = json.dumps(SHAPES[shape]).encode()
    if shape.startswith("repeated keys"):
        payload = payload[:-1] + b',"message":"second"}'
    assert ingested(payload) == whole(payload)


@pytest.mark.parametrize(
    "payload",
    [
        b'{"message":"a\\u0000b"}',  # NUL: repaired
        b'{"message":"a\\ud800b"}',  # lone surrogate: repaired
        b'{"message":"x","extra":{"v":NaN}}',  # NaN: repaired
        b'{"message":"x","extra":' + b'{"d":' * 300 + b"1" + b"}" * 301,  # too deep to store: cut
        b'{"message":"x","modules":' + b"[" * 1010 + b"]" * 1010 + b"}",  # deeper than msgspec reads
    ],
)
def test_what_needs_repair_is_repaired_as_before(payload):
    assert ingested(payload) == whole(payload)


def test_what_cannot_be_read_at_all_is_still_a_400():
    payload = b'{"message":"x","modules":' + b"[" * 2000 + b"]" * 2000 + b"}"
    with pytest.raises(BadRequest, match="Invalid event JSON"):
        load_event(payload)
