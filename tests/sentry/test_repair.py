"""Events that cannot be stored as sent, over HTTP on both databases: what is stored is repaired, and every
report can also be framed for the writer process of `logcenter serve`."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from logcenter.ingest.channel import encode_report
from logcenter.ingest.sentry.payload import MAX_DEPTH
from tests.factories import make_project
from tests.sentry.helpers import auth, event, stored


@pytest.fixture
def project(session):
    project = make_project(session, "shop")
    session.commit()
    return project


@pytest.fixture
def framed(app, client, monkeypatch):
    """The test app commits in process; this also frames each report as `serve` sends it to its writer."""
    submit = app.state.writer.submit

    async def framed_submit(report):
        encode_report(0, report)
        return await submit(report)

    monkeypatch.setattr(app.state.writer, "submit", framed_submit)
    return client


def post(client, project, payload: bytes):
    body = b"{}\n" + orjson.dumps({"type": "event", "length": len(payload)}) + b"\n" + payload + b"\n"
    return client.post(f"/api/{project.id}/envelope/", content=body, headers=auth(project.ingest_key))


def with_raw(**fields: bytes) -> bytes:
    """helpers.event() with fields given as raw JSON: orjson cannot write nesting this deep."""
    head = orjson.dumps(event())[:-1]
    return head + b"".join(b',"%s":%s' % (name.encode(), value) for name, value in fields.items()) + b"}"


def nested(levels: int) -> bytes:
    return b'{"d":' * levels + b'"leaf"' + b"}" * levels


def levels_of(value: Any) -> tuple[int, Any]:
    levels = 0
    while isinstance(value, dict):
        value, levels = value["d"], levels + 1
    return levels, value


# The Report's `data` is a JSON document of its own, `extra` one level down, and orjson writes at most 254
# levels: an `extra` of 253 levels is stored whole, one of 254 is cut.
@pytest.mark.parametrize(
    ("levels", "kept"),
    [(30, (30, "leaf")), (253, (253, "leaf")), (254, (MAX_DEPTH - 1, "[nested too deep]")), (600, None)],
)
def test_nesting_is_cut_only_where_the_writer_could_not_store_it(framed, db, project, levels, kept):
    assert post(framed, project, with_raw(extra=nested(levels))).status_code == 200
    [_], [occurrence] = stored(db)
    assert levels_of(occurrence.data["extra"]) == (kept or (MAX_DEPTH - 1, "[nested too deep]"))


def test_nul_in_what_is_stored_becomes_a_replacement_character(framed, db, project):
    sent = event(environment="prod\x00", tags={"k\x00": "v\x00"}, request={"url": "https://x/\x00"})
    sent["exception"]["values"][0]["value"] = "division\x00by zero"
    assert post(framed, project, orjson.dumps(sent)).status_code == 200
    [bug], [occurrence] = stored(db)
    assert bug.message == "division\ufffdby zero"
    assert occurrence.environment == "prod\ufffd"
    assert occurrence.data["tags"] == {"k\ufffd": "v\ufffd"}
    assert occurrence.context["url"] == "https://x/\ufffd"


def test_nul_in_what_is_not_stored_leaves_the_event_as_sent(framed, db, project):
    # `modules` is not stored: the event is not repaired (which would also have cut `extra` at MAX_DEPTH).
    payload = with_raw(modules=b'{"pkg\\u0000":"1.0"}', extra=nested(30))
    assert post(framed, project, payload).status_code == 200
    [_], [occurrence] = stored(db)
    assert levels_of(occurrence.data["extra"]) == (30, "leaf")


def test_a_tag_too_deep_to_print_is_repaired(framed, db, project):
    # orjson reads 1,000 levels; str() of them raises RecursionError while the tags are mapped.
    deep_list = b"[" * 1000 + b"1" + b"]" * 1000
    assert post(framed, project, with_raw(tags=b'[["k",' + deep_list + b"]]")).status_code == 200
    [_], [occurrence] = stored(db)
    kept = MAX_DEPTH - 3  # below the event, its tags and the pair
    assert occurrence.data["tags"]["k"] == "[" * kept + "'[nested too deep]'" + "]" * kept


def test_store_endpoint_repairs_the_same_way(framed, db, project):
    response = framed.post(
        f"/api/{project.id}/store/", content=with_raw(extra=nested(254)), headers=auth(project.ingest_key)
    )
    assert response.status_code == 200
    [_], [occurrence] = stored(db)
    assert levels_of(occurrence.data["extra"]) == (MAX_DEPTH - 1, "[nested too deep]")
