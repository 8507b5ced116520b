"""Which frame a report points at: the guide's fingerprint is md5(project|type|file_path|line_number)."""

from __future__ import annotations

import os
import site
import sys
import sysconfig
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import PurePath
from types import FrameType, TracebackType

_SDK_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep


def _library_dirs() -> tuple[str, ...]:
    dirs = {sysconfig.get_paths()[key] for key in ("stdlib", "platstdlib", "purelib", "platlib")}
    dirs.update(getattr(site, "getsitepackages", list)())
    if site.ENABLE_USER_SITE:
        dirs.add(site.getusersitepackages())
    return tuple(os.path.abspath(d) + os.sep for d in dirs if d)


_LIBRARY_DIRS = _library_dirs()


@dataclass(frozen=True, slots=True)
class Location:
    filename: str  # absolute, as the interpreter knows it
    line_number: int


def is_in_app(filename: str) -> bool:
    """False for the standard library, installed packages, this SDK and synthetic files like <frozen ...>."""
    if not filename or filename.startswith("<"):
        return False
    path = os.path.abspath(filename)
    if path.startswith(_SDK_DIR) or path.startswith(_LIBRARY_DIRS):
        return False
    # Virtualenvs and vendored trees that sysconfig does not know about still use these directory names.
    parts = PurePath(path).parts
    return "site-packages" not in parts and "dist-packages" not in parts


def display_path(filename: str, root_path: str | None) -> str:
    """The path to report: relative to root_path (POSIX separators) when the file is inside it."""
    if filename.startswith("<"):
        return filename
    path = os.path.abspath(filename)
    if root_path and root_path != os.sep and path.startswith(root_path.rstrip(os.sep) + os.sep):
        return PurePath(os.path.relpath(path, root_path)).as_posix()
    return path


def _tb_locations(tb: TracebackType | None) -> Iterator[Location]:
    while tb is not None:
        yield Location(tb.tb_frame.f_code.co_filename, tb.tb_lineno or 0)
        tb = tb.tb_next


def raising_location(exc: BaseException) -> Location | None:
    """The traceback's last in-app frame, else its last frame; None if the exception was never raised."""
    locations = list(_tb_locations(exc.__traceback__))
    if not locations:
        return None
    for location in reversed(locations):
        if is_in_app(location.filename):
            return location
    return locations[-1]


def caller_frame() -> FrameType | None:
    """The innermost frame outside this SDK: where capture_* was called from."""
    frame: FrameType | None = sys._getframe(1)
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(_SDK_DIR):
        frame = frame.f_back
    return frame
