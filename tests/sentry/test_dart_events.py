"""Events as sentry-dart / sentry_flutter sends them (no Dart toolchain here: the shapes are taken from the
SDK's source, getsentry/sentry-dart):

- `packages/dart/lib/src/sentry_stack_trace_factory.dart` `encodeStackTraceFrame`: every frame has
  `abs_path` = the frame's URI for `package:` and `dart:` frames ("package:shop/src/cart/cart_model.dart"),
  the bare file name for `file:` frames; `filename` = the URI's last path segment only ("cart_model.dart");
  `package`; `platform: "dart"`; `in_app` false for `dart:` and `package:flutter` frames, else true
  (`considerInAppFramesByDefault`); `lineno`/`colno`. Frames oldest first, an async gap is a frame of its own,
  `{"abs_path": "<asynchronous suspension>"}`. With `--obfuscate --split-debug-info` a frame is only
  `{"platform": "native", "instruction_addr": "0x..."}`.
- `dart/test/stack_trace_test.dart` ("parses normal stack trace") for the exact frame JSON;
- `packages/dart/lib/src/sentry_client.dart` `_prepareEvent`: event `platform` is `sdkPlatform(isWeb)`,
  the exception's `thread_id` points at a `threads` entry without a stack trace; `captureMessage` puts the
  stack in `threads[].stacktrace` (`current: true`);
- `packages/dart/lib/src/sentry_exception_factory.dart`: `type` = the runtimeType, `value` = its toString().
"""

from __future__ import annotations

import uuid
from typing import Any

from tests.sentry import test_endpoints
from tests.sentry.helpers import auth, envelope, stored
from tests.sentry.test_event import report


def dart_frame(uri: str, function: str, lineno: int, colno: int, *, in_app: bool) -> dict[str, Any]:
    """encodeStackTraceFrame's JSON for a `package:`/`dart:` frame on the VM (eventOrigin is '' there)."""
    scheme, _, path = uri.partition(":")
    frame: dict[str, Any] = {
        "abs_path": uri,
        "function": function,
        "lineno": lineno,
        "colno": colno,
        "in_app": in_app,
        "filename": path.rsplit("/", 1)[-1],
        "platform": "dart",
    }
    if scheme == "package":
        frame["package"] = path.split("/", 1)[0]
    return frame


project = test_endpoints.project  # the project fixture of the endpoint tests
url = test_endpoints.url


# A StateError from `List.first` on an empty list, in the app's model, called from a widget's tap handler.
FLUTTER_FRAMES = [
    dart_frame("dart:ui/platform_dispatcher.dart", "PlatformDispatcher._dispatchPointerDataPacket", 341, 31,
               in_app=False),
    dart_frame("package:flutter/src/gestures/tap.dart", "TapGestureRecognizer.handleTapUp", 627, 11,
               in_app=False),
    dart_frame("package:shop/src/cart/cart_page.dart", "CartPage.build.<fn>", 58, 22, in_app=True),
    {"abs_path": "<asynchronous suspension>"},
    dart_frame("package:shop/src/cart/cart_model.dart", "CartModel.checkout", 42, 31, in_app=True),
    dart_frame("dart:core-patch/growable_array.dart", "List.first", 345, 5, in_app=False),
]  # fmt: skip


def flutter_event(frames: list[dict[str, Any]] = FLUTTER_FRAMES, **fields: Any) -> dict[str, Any]:
    return {
        "event_id": uuid.uuid4().hex,
        "timestamp": "2026-11-22T03:00:00.000Z",
        "platform": "other",
        "level": "error",
        "release": "shop@1.2.0+12",
        "environment": "production",
        "sdk": {"name": "sentry.dart.flutter", "version": "9.7.0"},
        "exception": {
            "values": [
                {
                    "type": "StateError",
                    "value": "Bad state: No element",
                    "stacktrace": {"frames": frames},
                    "mechanism": {"type": "FlutterError", "handled": True},
                    "thread_id": 411,
                }
            ]
        },
        "threads": {"values": [{"id": 411, "name": "main", "crashed": True, "current": True}]},
        **fields,
    }


def test_a_flutter_error_points_at_the_apps_package_path_not_a_bare_file_name():
    r = report(flutter_event())
    assert (r.error_type, r.message) == ("StateError", "Bad state: No element")
    # The last in-app frame, as Sentry picks it, by its package URI: a bare "cart_model.dart" could be any
    # file of that name, and is not where the repair agent finds it (lib/src/cart/cart_model.dart).
    assert (r.file_path, r.line_number) == ("package:shop/src/cart/cart_model.dart", 42)
    assert '  File "package:shop/src/cart/cart_model.dart", line 42, column 31, in CartModel.checkout' in (
        r.stack_trace
    )
    assert '  File "<asynchronous suspension>"' in r.stack_trace
    assert r.stack_trace.endswith("StateError: Bad state: No element")


def test_same_named_files_of_different_packages_or_folders_are_different_bugs():
    other = [dict(frame) for frame in FLUTTER_FRAMES]
    other[4] = dart_frame(
        "package:shop/src/wishlist/cart_model.dart", "WishlistModel.first", 42, 9, in_app=True
    )
    assert report(flutter_event(other)).fingerprint != report(flutter_event()).fingerprint


def test_a_flutter_message_takes_its_place_from_the_current_threads_stack():
    event = flutter_event(message={"formatted": "Checkout took 5200 ms"}, level="warning")
    del event["exception"]
    event["threads"] = {
        "values": [{"id": 411, "name": "main", "crashed": False, "current": True, "stacktrace": {
            "frames": FLUTTER_FRAMES[:3]}}]
    }  # fmt: skip
    r = report(event)
    assert (r.error_type, r.message, r.level) == ("Message", "Checkout took 5200 ms", "WARNING")
    assert (r.file_path, r.line_number) == ("package:shop/src/cart/cart_page.dart", 58)


def test_a_flutter_web_debug_frame_drops_the_origin_sentry_dart_puts_before_the_uri():
    web = dart_frame("package:shop/src/cart/cart_model.dart", "checkout", 42, 31, in_app=True)
    web.update(abs_path="http://localhost:54123/package:shop/src/cart/cart_model.dart", platform="javascript")
    assert report(flutter_event([web])).file_path == "package:shop/src/cart/cart_model.dart"


def test_file_frames_and_python_or_javascript_frames_keep_their_filename():
    # `file:` frames are sent with the bare file name in both fields; other SDKs' filename stays first.
    file_frame = {
        "abs_path": "main.dart",
        "filename": "main.dart",
        "lineno": 404,
        "in_app": True,
        "platform": "dart",
    }
    assert report(flutter_event([file_frame])).file_path == "main.dart"
    python = {"filename": "shop/views.py", "abs_path": "/srv/shop/views.py", "lineno": 3, "in_app": True}
    assert report(flutter_event([python])).file_path == "shop/views.py"


def test_obfuscated_frames_have_no_file_and_group_by_type_and_value(client, db, project):
    native = [{"platform": "native", "instruction_addr": "0x000000723d637527"}]
    for value in ("Bad state: No element", "Bad state: Too many elements", "Bad state: No element"):
        sent = flutter_event(native)
        sent["exception"]["values"][0]["value"] = value
        response = client.post(url(project), content=envelope(sent), headers=auth(project.ingest_key))
        assert response.status_code == 200, response.text
    bugs, _ = stored(db)
    assert [(bug.error_type, bug.file_path, bug.line_number, bug.occurrence_count) for bug in bugs] == [
        ("StateError", None, None, 2),
        ("StateError", None, None, 1),
    ]


def test_a_flutter_envelope_is_stored(client, db, project):
    sent = flutter_event()
    headers = {
        "event_id": sent["event_id"],
        "sdk": sent["sdk"],
        "dsn": f"http://{project.ingest_key}@x/{project.id}",
    }
    response = client.post(
        url(project), content=envelope(sent, headers=headers), headers=auth(project.ingest_key)
    )
    assert response.json() == {"id": sent["event_id"]}
    [bug], [occurrence] = stored(db)
    assert (bug.file_path, bug.line_number) == ("package:shop/src/cart/cart_model.dart", 42)
    assert occurrence.data["platform"] == "other"
