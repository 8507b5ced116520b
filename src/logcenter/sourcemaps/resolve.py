"""Minified JavaScript frames → original file, line, column, function and context lines, at ingest.

Called by the Sentry ingest routes while they map an event (in a worker thread, never inside the ingest
writer's transaction). The map of a frame is found as Sentry finds it: by the debug id the SDK reports for
the frame's file (`debug_meta.images` of type `sourcemap`, injected by `sentry-cli sourcemaps inject` or the
bundler plugins), else by the event's release (and dist) and the file's URL as `~/path`, following the
minified file's `Sourcemap` header or `//# sourceMappingURL=`. Maps are parsed with getsentry's `symbolic`
(the Rust `sourcemap` crate Sentry itself uses), kept parsed in a bounded in-memory cache.

A missing, unreadable or corrupt map leaves the frame as it was: it never fails a report.
"""

from __future__ import annotations

import copy
import functools
import posixpath
import re
import threading
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar
from urllib.parse import urljoin, urlsplit

import structlog
from sqlalchemy.orm import Session, sessionmaker
from symbolic.sourcemap import SourceMapView, SourceView

from logcenter.ingest.limits import MAX_STACK_LINE, clip
from logcenter.ingest.sentry.stacktrace import format_exceptions, format_stack, frames_of
from logcenter.sourcemaps import service
from logcenter.sourcemaps.bundle import normalize_debug_id, read_entry

log = structlog.get_logger(__name__)

MAX_FILE_BYTES = 64 * 1024 * 1024  # one map or minified file read from a bundle
CONTEXT_LINES = 5  # Sentry's pre_context / post_context length
MAX_CONTEXT_LINE = 300
MAX_RESOLVED_FRAMES = 500  # frames looked up per event (SDKs send at most 50 per exception)
_SOURCE_MAPPING_URL = re.compile(rb"//[#@]\s*sourceMappingURL=(\S+)\s*$")
# Events that may carry JavaScript frames: any frame with a column (Python's have none).
_MARKER = b'"colno"'
FRAME_CACHE_SIZE = 4096  # resolved frames: an error that recurs has the same minified frames
DEBUG_ID_CACHE_SIZE = 1024  # where a debug id's files are: a debug id names one content, for good
K = TypeVar("K")
V = TypeVar("V")


def may_apply(payload: bytes) -> bool:
    """Whether an event's payload may have frames to resolve (cheap: no parsing)."""
    return _MARKER in payload


class _Lru(Generic[K, V]):
    """A bounded map, least recently used out first, shared by the threads that resolve events."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._items: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        with self._lock:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
            return value

    def put(self, key: K, value: V) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self._size:
                self._items.popitem(last=False)


@dataclass(frozen=True, slots=True)
class _Map:
    key: tuple[str, str]  # (bundle, zip entry): what the frame cache is keyed by
    view: SourceMapView
    url: str  # where the map is, `~/...` or a full URL: its sources are relative to it
    minified: SourceView | None  # the minified file, for the original function names


class Resolver:
    """One per app process: it holds the parsed-map cache."""

    def __init__(self, sessions: sessionmaker[Session], root: Path, cache_size: int = 64) -> None:
        self._sessions = sessions
        self._root = root
        self._map = functools.lru_cache(maxsize=cache_size)(self._parse_map)
        self._source = functools.lru_cache(maxsize=cache_size)(self._parse_source)
        self._debug_ids: _Lru[tuple[int, str], tuple[service.Located, service.Located | None]] = _Lru(
            DEBUG_ID_CACHE_SIZE
        )
        self._frames: _Lru[tuple[Any, ...], dict[str, Any]] = _Lru(FRAME_CACHE_SIZE)

    def resolve(self, event: dict[str, Any], project_pk: int) -> dict[str, Any]:
        """`event` with its minified frames resolved in place (the minified stack kept as `raw_stacktrace`).
        Any failure leaves the event as it came."""
        try:
            self._resolve(event, project_pk)
        except Exception:  # a missing map never fails a report: the event keeps its minified frames
            log.warning("sourcemaps.resolve_failed", project_pk=project_pk, exc_info=True)
        return event

    def _resolve(self, event: dict[str, Any], project_pk: int) -> None:
        frames = [frame for frame in _all_frames(event) if _position(frame) is not None]
        if not frames:
            return
        images = _debug_images(event)
        release = _text(event.get("release"))
        dist = _text(event.get("dist"))
        maps: dict[str, _Map | None] = {}
        resolved: list[tuple[dict[str, Any], dict[str, Any]]] = []
        with self._sessions() as session:
            for frame in frames[:MAX_RESOLVED_FRAMES]:
                url = _text(frame.get("abs_path")) or _text(frame.get("filename"))
                if url is None:
                    continue
                if url not in maps:
                    maps[url] = self._find(session, project_pk, url, images.get(url), release, dist)
                found = maps[url]
                if found is not None:
                    update = self._resolved_frame(found, frame)
                    if update is not None:
                        resolved.append((frame, update))
        if not resolved:
            return
        event["raw_stacktrace"] = _raw_stack(event)  # before the frames change
        for frame, update in resolved:
            data = frame.get("data")
            frame.update(copy.deepcopy(update))
            frame["data"] = {**(data if isinstance(data, dict) else {}), **update["data"]}

    def _resolved_frame(self, found: _Map, frame: dict[str, Any]) -> dict[str, Any] | None:
        key = (found.key, frame.get("lineno"), frame.get("colno"), _text(frame.get("function")))
        update = self._frames.get(key)
        if update is None:
            update = _lookup(found, frame)
            if update is None:
                return None
            self._frames.put(key, update)
        return update

    def _find(
        self,
        session: Session,
        project_pk: int,
        url: str,
        debug_id: str | None,
        release: str | None,
        dist: str | None,
    ) -> _Map | None:
        if debug_id is not None:
            located = self._debug_ids.get((project_pk, debug_id))
            if located is None:
                source_map = service.by_debug_id(session, project_pk, debug_id, "source_map")
                if source_map is not None:
                    minified = service.by_debug_id(session, project_pk, debug_id, "minified_source")
                    located = (source_map, minified)
                    self._debug_ids.put((project_pk, debug_id), located)
            if located is not None:
                source_map, minified = located
                return self._load(source_map, minified, source_map.url or "~/")
        if release is None:
            return None
        minified = service.by_url(session, project_pk, release, dist, _candidates(url))
        if minified is not None:
            reference = minified.sourcemap or self._mapping_url(minified)
            if reference is None:
                return None
            map_url = urljoin(minified.url or url, reference)
            source_map = service.by_url(session, project_pk, release, dist, _candidates(map_url))
        else:  # only the map was uploaded: look for it beside the file, as `app.js.map`
            map_url = url.split("?", 1)[0].split("#", 1)[0] + ".map"
            source_map = service.by_url(session, project_pk, release, dist, _candidates(map_url))
        if source_map is None:
            return None
        return self._load(source_map, minified, source_map.url or map_url)

    def _load(
        self, source_map: service.Located, minified: service.Located | None, map_url: str
    ) -> _Map | None:
        view = self._map(source_map.bundle, source_map.zip_path)
        if view is None:
            return None
        source = self._source(minified.bundle, minified.zip_path) if minified is not None else None
        return _Map(key=(source_map.bundle, source_map.zip_path), view=view, url=map_url, minified=source)

    def _mapping_url(self, minified: service.Located) -> str | None:
        """The `//# sourceMappingURL=` comment at the end of a minified file."""
        try:
            data = read_entry(self._root / minified.bundle, minified.zip_path, MAX_FILE_BYTES)
        except Exception:
            return None
        match = _SOURCE_MAPPING_URL.search(data[-4096:].rstrip())
        if match is None or match.group(1).startswith(b"data:"):
            return None
        return match.group(1).decode("utf-8", "replace")

    def _parse_map(self, bundle: str, zip_path: str) -> SourceMapView | None:
        try:
            return SourceMapView.from_json_bytes(read_entry(self._root / bundle, zip_path, MAX_FILE_BYTES))
        except Exception as exc:  # a corrupt map, a bundle pruned meanwhile: cached as None
            log.warning("sourcemaps.unreadable_map", bundle=bundle, file=zip_path[:200], error=str(exc)[:200])
            return None

    def _parse_source(self, bundle: str, zip_path: str) -> SourceView | None:
        try:
            return SourceView.from_bytes(read_entry(self._root / bundle, zip_path, MAX_FILE_BYTES))
        except Exception:
            return None


def _lookup(found: _Map, frame: dict[str, Any]) -> dict[str, Any] | None:
    position = _position(frame)
    assert position is not None
    line, column = position
    function = _text(frame.get("function"))
    if function is not None and found.minified is not None:
        token = found.view.lookup(line - 1, column - 1, function, found.minified)
    else:
        token = found.view.lookup(line - 1, column - 1)
    if token is None or not token.src:
        return None
    path = source_path(token.src, found.url)
    update: dict[str, Any] = {
        "filename": path,
        "abs_path": _source_url(token.src, found.url),
        "lineno": token.src_line + 1,
        "colno": token.src_col + 1,
        "data": {"sourcemap": found.url, "resolved_with": "sourcemap"},
    }
    original_function = token.function_name or None
    if original_function:
        update["function"] = original_function
    if "node_modules/" in path or path.startswith("node_modules"):
        update["in_app"] = False
    if token.src_id is not None:
        update.update(_context(found.view.get_sourceview(token.src_id), token.src_line))
    return update


def _context(view: SourceView | None, line: int) -> dict[str, Any]:
    """Sentry's context lines around the original line, from the map's sourcesContent."""
    if view is None or line >= len(view):
        return {}

    def cut(text: str) -> str:
        return clip(text, MAX_CONTEXT_LINE)

    return {
        "pre_context": [cut(text) for text in view[max(0, line - CONTEXT_LINES) : line]],
        "context_line": cut(view[line]),
        "post_context": [cut(text) for text in view[line + 1 : line + 1 + CONTEXT_LINES]],
    }


def source_path(source: str, map_url: str) -> str:
    """A map's source as a path in the repository: `../src/App.tsx` next to `~/dist/app.js.map` →
    `src/App.tsx`; `webpack://app/./src/App.tsx` → `src/App.tsx`."""
    scheme, sep, rest = source.partition("://")
    if sep and scheme.isalpha():
        if scheme in ("http", "https"):
            path = urlsplit(source).path
        else:  # webpack://<namespace>/./src/x, webpack:///src/x
            path = rest.partition("/")[2] if not rest.startswith("/") else rest
    else:
        base = posixpath.dirname(_url_path(map_url))
        path = posixpath.join(base, source)
    path = posixpath.normpath("/" + path)
    return clip(path.lstrip("/") or source, 1024)


def _source_url(source: str, map_url: str) -> str:
    if "://" in source:
        return clip(source, MAX_STACK_LINE)
    return clip(urljoin(map_url, source), MAX_STACK_LINE)


def _url_path(url: str) -> str:
    if url.startswith("~"):
        return url[1:].split("?", 1)[0]
    return urlsplit(url).path


def _candidates(url: str) -> list[str]:
    """How sentry-cli may have named the file at `url`: `~/path` (with and without the query), the URL."""
    parts = urlsplit(url)
    if url.startswith("~"):
        tilde = url
    elif parts.scheme and parts.path:
        tilde = "~" + parts.path + (f"?{parts.query}" if parts.query else "")
    else:
        return [url]
    names = [tilde, tilde.split("?", 1)[0], url]
    return list(dict.fromkeys(name[:2000] for name in names))


def _position(frame: dict[str, Any]) -> tuple[int, int] | None:
    line, column = frame.get("lineno"), frame.get("colno")
    if type(line) is int and type(column) is int and 0 < line < 2**31 and 0 < column < 2**31:
        data = frame.get("data")
        if isinstance(data, dict) and data.get("resolved_with"):  # resolved already (e.g. by a relay)
            return None
        return line, column
    return None


def _all_frames(event: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for container in (*_values(event.get("exception")), *_values(event.get("threads")), event):
        yield from frames_of(container)


def _debug_images(event: dict[str, Any]) -> dict[str, str]:
    """code_file → debug id of the `sourcemap` images the JS SDKs report."""
    meta = event.get("debug_meta")
    images = meta.get("images") if isinstance(meta, dict) else None
    found: dict[str, str] = {}
    for image in images if isinstance(images, list) else []:
        if isinstance(image, dict) and image.get("type") == "sourcemap":
            code_file = _text(image.get("code_file"))
            debug_id = normalize_debug_id(image.get("debug_id"))
            if code_file and debug_id:
                found[code_file] = debug_id
    return found


def _raw_stack(event: dict[str, Any]) -> str:
    exceptions = _values(event.get("exception"))
    if exceptions:
        return format_exceptions(exceptions)
    return format_stack(frames_of(event))


def _values(value: object) -> list[dict[str, Any]]:
    if isinstance(value, dict):
        value = value.get("values")
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None
