"""Background jobs: a table in the application's database, claimed by lease, run by a worker thread of
`logcenter serve` or by `logcenter worker` processes. No broker. Operator docs: docs/jobs.md."""

from logcenter.jobs.registry import (
    JobContext,
    PermanentFailure,
    RetryLater,
    every,
    handler,
    load_handlers,
)
from logcenter.jobs.service import enqueue
from logcenter.jobs.worker import Worker, run_pending

__all__ = [
    "JobContext",
    "PermanentFailure",
    "RetryLater",
    "Worker",
    "enqueue",
    "every",
    "handler",
    "load_handlers",
    "run_pending",
]
