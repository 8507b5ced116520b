"""What an occurrence keeps of a report is capped, as Relay's normalisation trims an event: a report never
grows on its way to the database, and what was dropped is said where it was dropped."""

from __future__ import annotations

import orjson
import pytest

from logcenter.ingest import limits
from tests.factories import make_project, report_payload
from tests.sentry.helpers import auth, stored


@pytest.fixture
def project(session):
    project = make_project(session, "caps")
    session.commit()
    return project


def store(client, project, event: dict) -> None:
    payload = orjson.dumps({"event_id": "2" * 32, **event})
    assert len(payload) <= 1024 * 1024
    response = client.post(f"/api/{project.id}/store/", content=payload, headers=auth(project.ingest_key))
    assert response.status_code == 200, response.text


def test_a_megabyte_of_empty_exceptions_is_stored_small_and_says_what_was_dropped(
    client, db, project, admin_headers
):
    payload_size = len(orjson.dumps({"exception": {"values": [{}] * 349_000}}))
    store(client, project, {"exception": {"values": [{}] * 349_000}})
    [bug], [occurrence] = stored(db)
    assert len(bug.stack_trace) < 10_000 < payload_size  # was ~21 million characters
    assert bug.stack_trace.startswith(
        f"[{349_000 - limits.MAX_EXCEPTIONS} earlier exceptions of the chain dropped]"
    )
    assert bug.stack_trace.count("\nError") == limits.MAX_EXCEPTIONS
    detail = client.get(f"/api/v1/bugs/{bug.id}", headers=admin_headers)
    assert detail.status_code == 200 and len(detail.content) < 100_000  # was 44 MB


def test_a_deep_stack_keeps_its_first_and_last_frames_and_counts_the_rest(client, db, project):
    frames = [{"filename": f"app/f{n}.py", "lineno": n, "function": f"fn{n}"} for n in range(5_000)]
    store(
        client,
        project,
        {"exception": {"values": [{"type": "RecursionError", "stacktrace": {"frames": frames}}]}},
    )
    [bug], _ = stored(db)
    lines = bug.stack_trace.splitlines()
    assert 'File "app/f0.py", line 0, in fn0' in lines[1]
    assert f"[... {5_000 - limits.MAX_FRAMES} frames omitted ...]" in bug.stack_trace
    assert 'File "app/f4999.py", line 4999, in fn4999' in lines[-2]
    assert lines[-1] == "RecursionError"
    assert (bug.file_path, bug.line_number) == ("app/f4999.py", 4999)  # grouping still sees the raising frame


def test_long_strings_are_cut_with_a_note_and_the_stack_text_stays_under_its_cap(client, db, project):
    long = "x" * 600_000
    frames = [{"filename": "a.py", "lineno": n, "context_line": long[:200_000]} for n in range(3)]
    store(
        client,
        project,
        {"exception": {"values": [{"type": "E", "value": long[:300_000], "stacktrace": {"frames": frames}}]}},
    )
    [bug], _ = stored(db)
    assert len(bug.message) < limits.MAX_MESSAGE + 50
    assert bug.message.endswith(f"…[{300_000 - limits.MAX_MESSAGE} characters dropped]")
    assert len(bug.stack_trace) < limits.MAX_STACK_TEXT + 100
    assert "characters dropped]" in bug.stack_trace


def test_tags_breadcrumbs_and_nested_contexts_are_trimmed_and_the_occurrence_stays_within_its_size(
    client, db, project
):
    deep: dict = {}
    node = deep
    for _ in range(100):
        node["next"] = {}
        node = node["next"]
    event = {
        "message": "hello",
        "tags": {f"t{n}": "v" for n in range(1_000)},
        "breadcrumbs": {"values": [{"message": "m" * 2_000, "data": {"n": n}} for n in range(150)]},
        "contexts": {"deep": deep, "wide": {f"k{n}": n for n in range(5_000)}},
        "extra": {"big": ["y" * 1_000] * 300},
    }
    store(client, project, event)
    _, [occurrence] = stored(db)
    data = occurrence.data
    assert len(data["tags"]) == limits.MAX_TAGS
    assert len(orjson.dumps(data)) <= limits.MAX_JSON_TEXT + 1_000
    assert "[nested too deep]" in orjson.dumps(data["contexts"]["deep"]).decode()
    assert data["contexts"]["wide"]["…"] == f"[{5_000 - limits.MAX_ITEMS} more keys dropped]"


def test_a_rest_report_with_a_huge_context_is_trimmed_not_refused(client, db):
    context = {"rows": [{"id": n, "payload": "z" * 500} for n in range(1_500)]}
    response = client.post("/api/v1/logs/report", json=report_payload(context=context))
    assert response.status_code == 200
    _, [occurrence] = stored(db)
    assert len(orjson.dumps(occurrence.context)) <= limits.MAX_JSON_TEXT + 1_000
    assert occurrence.context["rows"][-1] == f"[{1_500 - limits.MAX_ITEMS} more items dropped]"


def test_what_is_under_the_caps_is_kept_unchanged(client, db, project):
    event = {
        "message": "fine",
        "tags": {"a": "b"},
        "extra": {"nested": {"list": [1, 2, 3]}},
        "user": {"id": "7"},
    }
    store(client, project, event)
    _, [occurrence] = stored(db)
    assert occurrence.data["tags"] == {"a": "b"}
    assert occurrence.data["extra"] == {"nested": {"list": [1, 2, 3]}}
    assert occurrence.data["user"] == {"id": "7"}
