"""The envelope parser, on the spec's examples, real SDK envelopes and broken ones."""

from __future__ import annotations

import gzip
from pathlib import Path

import orjson
import pytest

from logcenter.errors import BadRequest, PayloadTooLarge
from logcenter.ingest.sentry.envelope import MAX_HEADER_BYTES, EnvelopeParser

SAMPLES = Path(__file__).parent / "samples"

# develop-docs envelopes.mdx, verbatim: an attachment with \r\n inside and an event, both with `length`.
SPEC_EXAMPLE = (
    b'{"event_id":"9ec79c33ec9942ab8353589fcb2e04dc","dsn":"https://e12d836b15bb49d7bbf99e64295d995b:@sentry.io/42"}\n'
    b'{"type":"attachment","length":10,"content_type":"text/plain","filename":"hello.txt"}\n'
    b"\xef\xbb\xbfHello\r\n\n"
    b'{"type":"event","length":41,"content_type":"application/json","filename":"application.log"}\n'
    b'{"message":"hello world","level":"error"}\n'
)


def parse(body: bytes, *, chunk: int | None = None, max_item: int = 1 << 20):
    parser = EnvelopeParser(max_item_bytes=max_item)
    step = chunk or len(body) or 1
    for i in range(0, len(body), step):
        parser.feed(body[i : i + step])
    return parser.finish()


def sample(name: str) -> bytes:
    data = (SAMPLES / name).read_bytes()
    return gzip.decompress(data) if name.endswith(".gz") else data


@pytest.mark.parametrize("chunk", [None, 1, 5, 64])
def test_the_spec_example_in_any_chunking(chunk):
    envelope = parse(SPEC_EXAMPLE, chunk=chunk)
    assert envelope.headers["event_id"] == "9ec79c33ec9942ab8353589fcb2e04dc"
    assert orjson.loads(envelope.event) == {"message": "hello world", "level": "error"}  # not the attachment


@pytest.mark.parametrize(
    "name",
    [
        "python-exception.envelope",  # sentry-python: `length` on every item
        "python-message.envelope",
        "node-exception.envelope",  # @sentry/node: no `length`, payload ends at the newline / EOF
        "node-message.envelope",
        "node-large.envelope.gz",  # above 32 KiB @sentry/node gzips
    ],
)
def test_real_sdk_envelopes(name):
    body = sample(name)
    envelope = parse(body)
    assert parse(body, chunk=3) == envelope
    event = orjson.loads(envelope.event)
    assert event["event_id"] == envelope.headers["event_id"]


def test_unknown_and_unwanted_item_types_are_skipped():
    body = b"\n".join(
        [
            b"{}",
            b'{"type":"session"}',
            b'{"sid":"x","status":"ok"}',
            b'{"type":"client_report","length":2}',
            b"{}",
            b'{"type":"something_new_in_2031","length":5}',
            b"a\nb\nc",
            b'{"type":"event"}',
            b'{"message":"kept"}',
            b'{"type":"transaction"}',
            b'{"type":"transaction"}',  # a skipped item's payload is never parsed
        ]
    )
    envelope = parse(body)
    assert envelope.headers == {}
    assert envelope.event == b'{"message":"kept"}'


def test_envelope_without_items_and_without_final_newline():
    assert parse(b'{"event_id":"9ec79c33ec9942ab8353589fcb2e04dc"}').event is None
    assert parse(b'{"event_id":"9ec79c33ec9942ab8353589fcb2e04dc"}\n').event is None


def test_sized_payload_may_end_at_eof_and_line_payload_may_be_empty():
    assert parse(b'{}\n{"type":"event","length":2}\n{}').event == b"{}"
    assert parse(b'{}\n{"type":"event"}\n').event == b""
    assert parse(b'{}\n{"type":"event","length":0}').event == b""


def test_large_skipped_items_are_not_buffered():
    attachment = b"\n" * 5_000_000  # newlines inside: only `length` says where it ends
    body = b'{}\n{"type":"attachment","length":%d}\n%s\n{"type":"event"}\n{}' % (len(attachment), attachment)
    parser = EnvelopeParser(max_item_bytes=100)
    for i in range(0, len(body), 65536):
        parser.feed(body[i : i + 65536])
        assert len(parser._buf) <= 65536
    assert parser.finish().event == b"{}"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "Empty envelope"),
        (b"not json\n", "Invalid envelope header"),
        (b"[1,2]\n", "Invalid envelope header: expected a JSON object"),
        (b'{}\n{"type":"event"\n{}', "Invalid item header"),
        (b'{}\n{"length":2}\n{}', "has no 'type'"),
        (b'{}\n{"type":"event","length":-1}\n', "invalid 'length'"),
        (b'{}\n{"type":"event","length":"2"}\n{}', "invalid 'length'"),
        (b'{}\n{"type":"event","length":true}\n{}', "invalid 'length'"),
        (
            b'{}\n{"type":"event","length":41}\n{"message":"hello"}',
            "Truncated envelope: 'event' item is 22 bytes short",
        ),
        (b'{}\n{"type":"attachment","length":10}\nabc', "Truncated envelope"),
        (b'{}\n{"type":"event"}\n{}\n{"type":"event"}\n{}', "more than one 'event' item"),
    ],
)
def test_malformed_envelopes_are_400(body, message):
    with pytest.raises(BadRequest, match=message):
        parse(body)


def test_an_event_item_over_the_cap_is_413_before_its_payload_is_read():
    parser = EnvelopeParser(max_item_bytes=100)
    with pytest.raises(PayloadTooLarge, match="'event' item is 101 bytes; the limit is 100"):
        parser.feed(b'{}\n{"type":"event","length":101}\n')


def test_an_event_item_without_length_over_the_cap_is_413():
    with pytest.raises(PayloadTooLarge, match="'event' item exceeds 100 bytes"):
        parse(b'{}\n{"type":"event"}\n' + b"x" * 101, chunk=10, max_item=100)
    with pytest.raises(PayloadTooLarge):
        parse(b'{}\n{"type":"event"}\n' + b"x" * 101 + b"\n", max_item=100)


def test_an_endless_header_line_is_413():
    with pytest.raises(PayloadTooLarge, match="header line exceeds"):
        parse(b"{" + b" " * MAX_HEADER_BYTES, chunk=4096)


def test_headers_are_available_as_soon_as_the_first_line_is_in():
    parser = EnvelopeParser(max_item_bytes=100)
    parser.feed(b'{"dsn":"http://k@h/1"}')
    assert parser.headers is None
    parser.feed(b'\n{"type":"ev')
    assert parser.headers == {"dsn": "http://k@h/1"}
