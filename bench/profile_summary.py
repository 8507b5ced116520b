"""Summarise a py-spy "raw" (collapsed stacks) profile: where the server's time goes, by thread and function.

    python bench/profile_summary.py bench/results/profile-...txt [--top 25]

py-spy is run by bench/ingest.py --profile with --threads (the first frame of each stack names the thread) and
without --idle, so every sample is a thread running or waiting for the GIL. Time in C code (uvloop, sqlite3,
psycopg, pydantic-core) is charged to the Python frame that called it: "Runner.run" self time is uvloop's own
loop. "self" counts samples whose innermost frame is the function; "total" counts samples with the function
anywhere on the stack (once per sample).
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from pathlib import Path
from typing import Any

_LINE = re.compile(r"^(?P<stack>.*) (?P<count>\d+)$")
_FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^():]+)(?::\d+)?\)$")


def _short(frame: str) -> str:
    """'store_batch (logcenter/ingest/service.py:120)' -> 'store_batch (logcenter/ingest/service.py)'."""
    m = _FRAME.match(frame)
    if not m:
        return frame
    path = m["file"]
    for marker in ("site-packages/", "/src/", "lib/python3"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    return f"{m['func']} ({path})"


def summarize(path: Path, top: int = 25) -> dict[str, Any]:
    self_time: Counter[str] = Counter()
    total_time: Counter[str] = Counter()
    by_thread: Counter[str] = Counter()
    samples = 0
    for line in path.read_text(errors="replace").splitlines():
        m = _LINE.match(line)
        if not m:
            continue
        count = int(m["count"])
        frames = m["stack"].split(";")
        # py-spy --subprocesses prefixes a 'process ...' frame and --threads a 'thread (tid): name' frame.
        body = [f for f in frames if not f.startswith(("process ", "thread ("))]
        names = [_short(f) for f in body]
        samples += count
        by_thread[_thread_label(frames)] += count
        if names:
            self_time[names[-1]] += count
        for name in set(names):
            total_time[name] += count
    lines = [f"py-spy profile {path.name}: {samples} samples (active threads only)"]
    if samples:
        lines.append("threads:")
        lines += [f"  {100 * c / samples:5.1f}%  {t}" for t, c in by_thread.most_common(8)]
        lines.append(f"top {top} by self time:")
        lines += [f"  {100 * c / samples:5.1f}%  {f}" for f, c in self_time.most_common(top)]
        lines.append(f"top {top} by total time (function on the stack):")
        lines += [f"  {100 * c / samples:5.1f}%  {f}" for f, c in total_time.most_common(top)]
    return {"samples": samples, "text": "\n".join(lines) + "\n"}


def _thread_label(frames: list[str]) -> str:
    """'thread (16616): logcenter-ingest-writer' -> 'logcenter-ingest-writer'."""
    for f in frames[:3]:
        if f.startswith("thread ("):
            return f.split("): ", 1)[1] if "): " in f else f
    return "(unnamed thread)"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("profile", type=Path)
    p.add_argument("--top", type=int, default=25)
    args = p.parse_args()
    print(summarize(args.profile, args.top)["text"], end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
