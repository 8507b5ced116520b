"""Process-wide settings of `logcenter serve`'s long-running processes: OS-visible names, and the garbage
collector.

Names: `logcenter serve` runs as one Python command line in several processes (the HTTP workers, the writer)
and threads (the writer's WAL checkpointer); naming them tells an operator (`top`, `ps`, `htop -H`), and
bench/ingest.py, which one spends the CPU. Linux keeps up to 15 bytes of a task's name and lets a process
rename its own tasks through /proc. Elsewhere, or without /proc, names stay as they were: nothing depends on
them.

Garbage collector: each ingested report allocates a few hundred containers (a Sentry event is a tree of
dicts and lists) that live for the request and die by reference counting. With CPython's default first
threshold (700 allocations) a young-generation pass runs every request or two, walks the live request's
objects and promotes them to be walked again; a higher threshold lets them die before any pass sees them.
Cycles are still collected, only later: a pass per `GC_THRESHOLD[0]` net allocations.
"""

from __future__ import annotations

import contextlib
import gc
import threading

WRITER_PROCESS = "lc-writer"
CHECKPOINT_THREAD = "lc-checkpoint"
GC_THRESHOLD = (20_000, 20, 10)


def name_this_thread(name: str) -> None:
    """Name the calling OS thread (the main thread's name is the process's name)."""
    with contextlib.suppress(OSError), open(f"/proc/self/task/{threading.get_native_id()}/comm", "w") as f:
        f.write(name[:15])


def settle_heap() -> None:
    """Once start-up is done: keep what it built (modules, app, engine) out of every collection, and collect
    young objects less often (above)."""
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLD)
