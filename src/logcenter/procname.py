"""Names that `top`, `ps` and `htop -H` show for Log Center's processes and threads (Linux).

`logcenter serve` runs as one Python command line in several processes (the HTTP workers, the writer) and
threads (the writer's WAL checkpointer); naming them tells an operator, and bench/ingest.py, which one
spends the CPU. Linux keeps up to 15 bytes of a task's name, and lets a process rename its own tasks through
/proc. Elsewhere, or if /proc is not mounted, names stay as they were: nothing depends on them.
"""

from __future__ import annotations

import contextlib
import threading

WRITER_PROCESS = "lc-writer"
CHECKPOINT_THREAD = "lc-checkpoint"


def name_this_thread(name: str) -> None:
    """Name the calling OS thread (the main thread's name is the process's name)."""
    with contextlib.suppress(OSError), open(f"/proc/self/task/{threading.get_native_id()}/comm", "w") as f:
        f.write(name[:15])
