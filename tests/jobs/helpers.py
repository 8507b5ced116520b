"""Running one periodic job as a worker runs it once it is due, for tests of the services behind the jobs."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from logcenter.db import utcnow
from logcenter.jobs.registry import HANDLERS, PERIODIC, load_handlers
from logcenter.jobs.worker import Worker
from tests.conftest import Database


def run_periodic_job(db: Database, settings: Any, kind: str, *, due_after: float) -> int:
    """Schedule the periodic job `kind` and run it `due_after` seconds later, as a worker with only that
    handler would; returns how many jobs ran."""
    load_handlers()
    worker = Worker(
        db.factory,
        settings,
        name=f"{kind}-test",
        handlers={kind: HANDLERS[kind]},
        periodic=[PERIODIC[kind]],
    )
    assert worker.schedule() == [kind]
    return worker.run_pending(now=utcnow() + timedelta(seconds=due_after))
