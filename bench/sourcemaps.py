"""Source map resolution at ingest, in process: what resolving an event's frames costs, with the map to
parse (first event of a bundle in a process) and from the cache (every later one).

    python bench/sourcemaps.py [--events 2000]

It bundles tests/sourcemaps/app (React + @sentry/browser, minified by esbuild from tests/js, `npm ci` there
first) into a temp folder, stores it as an artifact bundle in a temp SQLite database the way an upload does,
and resolves an event with the 12 frames of the test app's crash (React's and the app's). Prints numbers.
"""

from __future__ import annotations

import argparse
import copy
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT)]

from tests.sourcemaps.upload import artifact_bundle, sha1  # noqa: E402

from logcenter.config import Settings  # noqa: E402
from logcenter.db import create_db_engine, create_session_factory, session_scope  # noqa: E402
from logcenter.migrations import upgrade  # noqa: E402
from logcenter.projects.models import Project  # noqa: E402
from logcenter.sourcemaps import service  # noqa: E402
from logcenter.sourcemaps.resolve import Resolver  # noqa: E402
from logcenter.sourcemaps.storage import Storage  # noqa: E402

DEBUG_ID = "0b1f6a52-8c1d-4a8e-9b55-3f2d7c9e1a40"
ESBUILD = ROOT / "tests" / "js" / "node_modules" / ".bin" / "esbuild"


def build(work: Path) -> tuple[bytes, bytes]:
    shutil.copytree(ROOT / "tests" / "sourcemaps" / "app" / "src", work / "src")
    command = [str(ESBUILD), "src/main.tsx", "--bundle", "--minify", "--sourcemap", "--jsx=automatic",
               "--outfile=dist/main.js", '--define:process.env.NODE_ENV="production"',
               '--define:__SENTRY_DSN__=""', '--define:__RELEASE__="bench"', "--log-level=error"]  # fmt: skip
    env = {**os.environ, "NODE_PATH": str(ESBUILD.parents[1])}  # react and @sentry/browser from tests/js
    subprocess.run(command, cwd=work, env=env, check=True, timeout=120)
    return (work / "dist" / "main.js").read_bytes(), (work / "dist" / "main.js.map").read_bytes()


def frames(code: bytes, count: int) -> list[dict[str, object]]:
    """`count` frames at function starts of the minified bundle, as a browser stack would have them."""
    text = code.decode()
    lines = text.splitlines()
    found = []
    for number, line in enumerate(lines, 1):
        for match in re.finditer(r"function (\w+)\(", line):
            found.append({"filename": "https://app.example/dist/main.js", "function": match.group(1),
                          "lineno": number, "colno": match.end() + 2, "in_app": True})  # fmt: skip
    step = max(1, len(found) // count)
    return found[::step][:count]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--frames", type=int, default=12)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        code, source_map = build(work)
        settings = Settings(data_dir=work / "data", job_worker=False)
        engine = create_db_engine(settings.database_url)
        upgrade(engine)
        sessions = create_session_factory(engine)
        storage = Storage(settings.sourcemaps_path)
        bundle = artifact_bundle({
            "~/dist/main.js": ("minified_source", code, {"debug-id": DEBUG_ID, "sourcemap": "main.js.map"}),
            "~/dist/main.js.map": ("source_map", source_map, {"debug-id": DEBUG_ID}),
        })  # fmt: skip
        checksum = sha1(bundle)
        chunk = storage.chunk_path(checksum)
        chunk.parent.mkdir(parents=True, exist_ok=True)
        chunk.write_bytes(bundle)
        stored = service.store(storage, settings, checksum, [checksum])
        assert isinstance(stored, service.Stored)
        with session_scope(sessions) as session:
            project = Project(slug="bench_web")
            session.add(project)
            session.flush()
            service.index(session, stored, projects=[project], checksum=checksum, release=None, dist=None)
            pk = project.id
        event = {
            "exception": {"values": [{"type": "TypeError", "value": "x",
                                      "stacktrace": {"frames": frames(code, args.frames)}}]},
            "debug_meta": {"images": [{"type": "sourcemap", "code_file": "https://app.example/dist/main.js",
                                       "debug_id": DEBUG_ID}]},
        }  # fmt: skip
        print(
            f"bundle: main.js {len(code):,} B, main.js.map {len(source_map):,} B; {args.frames} frames/event"
        )
        cold = []
        for _ in range(5):
            resolver = Resolver(sessions, settings.sourcemaps_path)
            started = time.perf_counter()
            resolved = resolver.resolve(copy.deepcopy(event), pk)
            cold.append(time.perf_counter() - started)
        assert "raw_stacktrace" in resolved, "nothing resolved"
        warm = []
        for _ in range(args.events):
            sample = copy.deepcopy(event)
            started = time.perf_counter()
            resolver.resolve(sample, pk)
            warm.append(time.perf_counter() - started)
        warm.sort()
        print(f"first event of a process (parses the map): median {statistics.median(cold) * 1000:.1f} ms")
        print(
            f"later events (map, index and frames cached): median {statistics.median(warm) * 1000:.2f} ms, "
            f"p99 {warm[int(len(warm) * 0.99)] * 1000:.2f} ms, "
            f"{len(warm) / sum(warm):,.0f} events/s per thread"
        )
        engine.dispose()


if __name__ == "__main__":
    main()
