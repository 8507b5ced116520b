"""Sentry stack traces: the raising frame for grouping, and Python-traceback-like text for people and the
repair agent (develop-docs `event-payloads/stacktrace.mdx`, `exception.mdx`)."""

from __future__ import annotations

from typing import Any

from logcenter.ingest.limits import (
    MAX_EXCEPTIONS,
    MAX_FRAMES,
    MAX_STACK_LINE,
    MAX_STACK_TEXT,
    clip,
    clip_middle,
    keep_ends,
)

_DIRECT_CAUSE = "\nThe above exception was the direct cause of the following exception:\n"
_DURING_HANDLING = "\nDuring handling of the above exception, another exception occurred:\n"
# sentry-python marks how exceptions are chained only inside exception groups.
_FOLLOWED_BY = "\nThe exception above led to the following exception:\n"
_CHAINS = {"__cause__": _DIRECT_CAUSE, "cause": _DIRECT_CAUSE, "__context__": _DURING_HANDLING}
# Exception modules Python leaves out of a traceback's last line.
_BUILTIN_MODULES = frozenset({"builtins", "__builtin__", "exceptions"})


def frames_of(container: dict[str, Any]) -> list[dict[str, Any]]:
    """The frames of an exception value, a thread or an event, oldest first (caller before callee)."""
    stacktrace = container.get("stacktrace")
    frames = stacktrace.get("frames") if isinstance(stacktrace, dict) else None
    return [frame for frame in frames if isinstance(frame, dict)] if isinstance(frames, list) else []


def raising_frame(frames: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The last in-app frame, else the last frame: where the team's own code went wrong."""
    for frame in reversed(frames):
        if frame.get("in_app") is True:
            return frame
    return frames[-1] if frames else None


def frame_file(frame: dict[str, Any]) -> str | None:
    """The frame's file: `filename` (sentry-python's path in the project, JS's URL or path); for Dart its
    `package:`/`dart:` URI, since sentry-dart's `filename` is only the URI's last segment."""
    dart = _dart_uri(frame.get("abs_path"))
    if dart:
        return dart
    for key in ("filename", "abs_path", "module"):
        value = frame.get(key)
        if isinstance(value, str) and value:
            return value
    return None


def _dart_uri(abs_path: object) -> str | None:
    """`package:shop/src/cart.dart` or `dart:core/list.dart` from sentry-dart's abs_path, which Flutter web
    debug builds prefix with the page's origin (sentry-dart `encodeStackTraceFrame`)."""
    if not isinstance(abs_path, str) or ":" not in abs_path:
        return None
    for scheme in ("package:", "dart:"):
        if abs_path.startswith(scheme):
            return abs_path
        at = abs_path.find("/" + scheme)
        if at >= 0 and abs_path.startswith(("http://", "https://")):
            return abs_path[at + 1 :]
    return None


def frame_line(frame: dict[str, Any]) -> int | None:
    value = frame.get("lineno")
    # Bounded to what the INTEGER column holds.
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**31:
        return value
    return None


def format_exceptions(values: list[dict[str, Any]]) -> str:
    """A chain of exception values (oldest first) the way Python prints it, within the stack caps."""
    dropped = len(values) - MAX_EXCEPTIONS
    blocks = [f"[{dropped} earlier exceptions of the chain dropped]"] if dropped > 0 else []
    values = values[-MAX_EXCEPTIONS:]
    for index, value in enumerate(values):
        if index:
            # When the SDK says, the older exception's mechanism tells whether it was the newer one's
            # `__cause__` (JS: `cause`) or its implicit `__context__`.
            mechanism = values[index - 1].get("mechanism")
            source = mechanism.get("source") if isinstance(mechanism, dict) else None
            blocks.append(_CHAINS.get(source, _FOLLOWED_BY) if isinstance(source, str) else _FOLLOWED_BY)
        frames = frames_of(value)
        head = ["Traceback (most recent call last):", *_frame_lines(frames)] if frames else []
        blocks.append("\n".join([*head, _exception_line(value)]))
    return clip_middle("\n".join(blocks), MAX_STACK_TEXT)


def format_stack(frames: list[dict[str, Any]]) -> str:
    """A stack without an exception (a message sent with attach_stacktrace), like logging's stack_info."""
    if not frames:
        return ""
    return clip_middle("\n".join(["Stack (most recent call last):", *_frame_lines(frames)]), MAX_STACK_TEXT)


def _frame_lines(frames: list[dict[str, Any]]) -> list[str]:
    """Two lines a frame, like Python's traceback; past MAX_FRAMES, the first and last halves."""
    head, tail, omitted = keep_ends(frames, MAX_FRAMES)
    lines = _lines_of(head)
    if omitted:
        lines.append(f"  [... {omitted} frames omitted ...]")
    return lines + _lines_of(tail)


def _lines_of(frames: list[dict[str, Any]]) -> list[str]:
    lines = []
    for frame in frames:
        where = f'  File "{frame_file(frame) or "<unknown>"}"'
        lineno = frame_line(frame)
        if lineno is not None:
            where += f", line {lineno}"
            colno = frame.get("colno")
            # Minified JavaScript is one long line: without the column the line number says little.
            if isinstance(colno, int) and not isinstance(colno, bool):
                where += f", column {colno}"
        function = frame.get("function")
        if isinstance(function, str) and function:
            where += f", in {function}"
        lines.append(clip(where, MAX_STACK_LINE))
        context_line = frame.get("context_line")
        if isinstance(context_line, str) and context_line.strip():
            lines.append(clip(f"    {context_line.strip()}", MAX_STACK_LINE))
    return lines


def _exception_line(value: dict[str, Any]) -> str:
    exc_type = value.get("type")
    name = exc_type if isinstance(exc_type, str) and exc_type else "Error"
    module = value.get("module")
    if isinstance(module, str) and module and module not in _BUILTIN_MODULES:
        name = f"{module}.{name}"
    message = value.get("value")
    return clip(f"{name}: {message}" if isinstance(message, str) and message else name, MAX_STACK_LINE)
