"""Frames of events resolved through uploaded maps: by debug id, by release + URL, and what happens when the
map is missing, corrupt or gone from disk (the report is stored all the same, with the minified frame).

The maps are esbuild's, from a small TypeScript file (tests/sourcemaps/upload.py); the bundles are uploaded
through the same protocol sentry-cli speaks, and the events are what @sentry/browser sends for that file.
"""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from logcenter.sourcemaps.models import ArtifactBundle
from tests.sourcemaps.upload import CHECKOUT_TS, artifact_bundle, minify, throw_position, upload

DEBUG_ID = "5b2e0c4e-3a41-4b8e-9d7a-0c9a1f6e2d11"
URL = "https://shop.example/static/app.js"
THROW = '    throw new RangeError("No coupon code");'


@pytest.fixture
def minified(tmp_path: Path) -> tuple[bytes, bytes]:
    return minify(tmp_path)


@pytest.fixture
def project(client, admin_headers) -> dict[str, Any]:
    client.post("/api/v1/projects", json={"project_id": "shop_web"}, headers=admin_headers).raise_for_status()
    project: dict[str, Any] = client.get("/api/v1/projects/shop_web", headers=admin_headers).json()
    return project


def event(code: bytes, *, debug_id: str | None = None, release: str | None = None) -> dict[str, Any]:
    """What @sentry/browser sends when checkout() throws in the minified app.js."""
    line, column = throw_position(code)
    text = code.decode().splitlines()[line - 1]
    function = re.findall(r"function (\w+)\(", text[: column - 1])[-1]  # the minified name, as the stack says
    body: dict[str, Any] = {
        "event_id": uuid.uuid4().hex,
        "platform": "javascript",
        "exception": {
            "values": [
                {
                    "type": "RangeError",
                    "value": "No coupon code",
                    "stacktrace": {
                        "frames": [{"filename": URL, "function": function, "lineno": line, "colno": column,
                                    "in_app": True}]
                    },
                    "mechanism": {"type": "onerror", "handled": False},
                }
            ]
        },
    }  # fmt: skip
    if debug_id:
        body["debug_meta"] = {"images": [{"type": "sourcemap", "code_file": URL, "debug_id": debug_id}]}
    if release:
        body["release"] = release
    return body


def send(client, headers: dict[str, str], project: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    """Send the event to the Sentry store endpoint; the bug it landed in, as the API shows it."""
    sent = client.post(f"/api/{project['id']}/store/?sentry_key={project['ingest_key']}", json=body)
    assert sent.status_code == 200, sent.text
    bugs = client.get("/api/v1/bugs", params={"project_id": "shop_web"}, headers=headers)
    assert bugs.status_code == 200, bugs.text
    for bug in bugs.json()["bugs"]:
        detail: dict[str, Any] = client.get(f"/api/v1/bugs/{bug['id']}", headers=headers).json()
        if any(o["event_id"] == body["event_id"] for o in detail["occurrences"]):
            return detail
    raise AssertionError("the event is in no bug")


def line_of(text: str) -> int:
    return CHECKOUT_TS.splitlines().index(text) + 1


def test_a_frame_is_resolved_through_the_debug_id_the_event_carries(client, admin_headers, project, minified):
    code, source_map = minified
    bundle = artifact_bundle(
        {
            "~/static/app.js": ("minified_source", code, {"debug-id": DEBUG_ID, "sourcemap": "app.js.map"}),
            "~/static/app.js.map": ("source_map", source_map, {"debug-id": DEBUG_ID}),
        }
    )
    assert upload(client, admin_headers, bundle, ["shop_web"])["state"] == "ok"

    bug = send(client, admin_headers, project, event(code, debug_id=DEBUG_ID))
    assert (bug["file_path"], bug["line_number"]) == ("src/checkout.ts", line_of(THROW))
    assert (
        'File "src/checkout.ts", line 3, column 11, in applyCoupon\n    throw new RangeError'
        in bug["stack_trace"]
    )
    [occurrence] = bug["occurrences"]
    assert f'File "{URL}", line 1' in occurrence["data"]["raw_stacktrace"]


def test_a_frame_is_resolved_through_the_release_and_the_file_url(client, admin_headers, project, minified):
    code, source_map = minified  # no debug id: the file names its map in `//# sourceMappingURL=`
    bundle = artifact_bundle(
        {
            "~/static/app.js": ("minified_source", code, {}),
            "~/static/app.js.map": ("source_map", source_map, {}),
        }
    )
    assert upload(client, admin_headers, bundle, ["shop_web"], version="shop@2.0")["state"] == "ok"

    other_release = send(client, admin_headers, project, event(code, release="shop@1.0"))
    assert other_release["file_path"] == URL  # that release has no maps
    bug = send(client, admin_headers, project, event(code, release="shop@2.0"))
    assert (bug["file_path"], bug["line_number"]) == ("src/checkout.ts", line_of(THROW))
    assert bug["id"] != other_release["id"]


def test_without_a_map_the_report_keeps_its_minified_frame(client, admin_headers, project, minified):
    code, _ = minified
    bug = send(client, admin_headers, project, event(code, debug_id=DEBUG_ID, release="shop@9.9"))
    line, _column = throw_position(code)
    assert (bug["file_path"], bug["line_number"]) == (URL, line)
    assert "raw_stacktrace" not in bug["occurrences"][0]["data"]


def test_a_corrupt_map_never_fails_a_report(client, admin_headers, project, minified):
    code, source_map = minified
    bundle = artifact_bundle(
        {
            "~/static/app.js": ("minified_source", code, {"debug-id": DEBUG_ID}),
            "~/static/app.js.map": ("source_map", source_map[: len(source_map) // 2], {"debug-id": DEBUG_ID}),
        }
    )
    assert upload(client, admin_headers, bundle, ["shop_web"])["state"] == "ok"
    for _ in range(2):  # the second from the cache of what could not be parsed
        bug = send(client, admin_headers, project, event(code, debug_id=DEBUG_ID))
        assert bug["file_path"] == URL
    assert bug["occurrence_count"] == 2


def test_a_bundle_gone_from_disk_never_fails_a_report(client, db, admin_headers, project, minified, settings):
    code, source_map = minified
    bundle = artifact_bundle(
        {"~/static/app.js.map": ("source_map", source_map, {"debug-id": DEBUG_ID})},
    )
    assert upload(client, admin_headers, bundle, ["shop_web"])["state"] == "ok"
    with db.factory() as session:
        path = session.scalars(select(ArtifactBundle.path)).one()
    (settings.sourcemaps_path / path).unlink()
    bug = send(client, admin_headers, project, event(code, debug_id=DEBUG_ID))
    assert bug["file_path"] == URL


def test_two_builds_of_the_same_code_group_into_one_bug(client, admin_headers, project, tmp_path):
    """The minified position changes with every build; the bug is the original line, so it stays one."""
    first_code, first_map = minify(tmp_path / "a")
    later = tmp_path / "b"
    (later / "src").mkdir(parents=True)
    (later / "src" / "banner.ts").write_text('(globalThis as any).banner = () => "Free shipping over 50";\n')
    source = CHECKOUT_TS + 'import "./banner";\n'  # the throw stays on line 3 of src/checkout.ts
    second_code, second_map = minify(later, source)
    assert throw_position(first_code) != throw_position(second_code)
    second_id = "9f0e8d7c-6b5a-4c3d-8e2f-1a0b9c8d7e6f"
    for code, source_map, debug_id in (
        (first_code, first_map, DEBUG_ID),
        (second_code, second_map, second_id),
    ):
        bundle = artifact_bundle(
            {
                "~/static/app.js": ("minified_source", code, {"debug-id": debug_id}),
                "~/static/app.js.map": ("source_map", source_map, {"debug-id": debug_id}),
            }
        )
        assert upload(client, admin_headers, bundle, ["shop_web"])["state"] == "ok"

    first = send(client, admin_headers, project, event(first_code, debug_id=DEBUG_ID))
    second = send(client, admin_headers, project, event(second_code, debug_id=second_id))
    assert first["id"] == second["id"] and second["occurrence_count"] == 2
    assert (second["file_path"], second["line_number"]) == ("src/checkout.ts", 3)
