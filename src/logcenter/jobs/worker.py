"""The job worker: claims due jobs one at a time, runs their handlers, records what happened.

`logcenter serve` runs one worker thread for the whole server (in its parent process, whatever the number
of HTTP workers); an app run without `serve` runs one in its lifespan; `logcenter worker` runs one in a
process of its own for scaled-out setups. Several workers on one database never run the same job at once
(jobs/service.py claims by lease). While a job runs, a heartbeat thread renews its lease, so only a worker
that stopped (crash, kill, lost machine) lets its job be reclaimed; a handler may therefore run more than
once for one job and must be idempotent.

`run_pending()` runs what is due synchronously, for tests and `logcenter worker --once`.
"""

from __future__ import annotations

import os
import socket
import threading
import uuid
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

import structlog
from sqlalchemy.orm import Session, sessionmaker

from logcenter.config import Settings
from logcenter.db import session_scope, utcnow
from logcenter.errors import LogCenterError
from logcenter.jobs import service
from logcenter.jobs.models import JobState
from logcenter.jobs.registry import (
    PERIODIC,
    Handler,
    JobContext,
    Periodic,
    PermanentFailure,
    RetryLater,
    load_handlers,
)

log = structlog.get_logger(__name__)


def default_name() -> str:
    """host:pid:random, so an operator can tell which process holds a job (`jobs.locked_by`)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def _describe(exc: BaseException) -> str:
    if isinstance(exc, LogCenterError):
        return exc.message
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class Worker:
    """Runs the jobs of the kinds it has handlers for (every registered kind unless told otherwise)."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        settings: Settings,
        *,
        name: str | None = None,
        handlers: dict[str, Handler] | None = None,
        periodic: Iterable[Periodic] | None = None,
    ) -> None:
        self.sessions = sessions
        self.settings = settings
        self.name = name or default_name()
        self.handlers = dict(handlers if handlers is not None else load_handlers())
        chosen = PERIODIC.values() if periodic is None else periodic
        self.periodic = {f"every:{p.kind}": p for p in chosen if p.kind in self.handlers}
        self._aligned = False  # periodic jobs queued under a longer interval: pulled in at the first schedule
        self._stop = threading.Event()
        self._current: int | None = None
        self._threads: list[threading.Thread] = []

    @property
    def lease(self) -> timedelta:
        return timedelta(seconds=self.settings.job_lease_seconds)

    # One step at a time (tests, --once)

    def schedule(self, *, now: datetime | None = None) -> list[str]:
        """Queue each periodic kind that has no job queued or running; returns the kinds queued.

        The first time, a periodic job an earlier run queued further ahead than its interval now says (the
        setting was lowered, then the server restarted) is brought forward to run within the new interval."""
        if not self.periodic:
            return []
        if not self._aligned:
            at = now or utcnow()
            with session_scope(self.sessions) as session:
                for key, periodic in self.periodic.items():
                    latest = at + timedelta(seconds=periodic.interval(self.settings))
                    service.bring_forward(session, key, latest)
            self._aligned = True
        with session_scope(self.sessions, write=False) as session:
            missing = service.periodic_missing(session, self.periodic)
        if not missing:
            return []
        with session_scope(self.sessions) as session:
            for key in sorted(missing):
                periodic = self.periodic[key]
                service.enqueue(
                    session,
                    periodic.kind,
                    delay=periodic.interval(self.settings),
                    dedupe_key=key,
                    now=now,
                )
        return [self.periodic[key].kind for key in sorted(missing)]

    def run_once(self, *, now: datetime | None = None) -> bool:
        """Claim one due job and run it; False when none was due."""
        clock: Callable[[], datetime] = (lambda: now) if now is not None else utcnow
        kinds = list(self.handlers)
        at = clock()
        with session_scope(self.sessions, write=False) as session:
            if not service.any_due(session, kinds=kinds, now=at):
                return False
        with session_scope(self.sessions) as session:
            claimed = service.claim(session, worker=self.name, kinds=kinds, lease=self.lease, now=at)
        if not claimed:
            return False
        self._run(claimed[0], clock)
        return True

    def run_pending(self, *, now: datetime | None = None, limit: int = 1000) -> int:
        """Run jobs until none is due (at `now`); returns how many ran."""
        ran = 0
        while ran < limit and self.run_once(now=now):
            ran += 1
        return ran

    def _run(self, job: service.ClaimedJob, clock: Callable[[], datetime]) -> None:
        handler = self.handlers[job.kind]
        context = JobContext(
            sessions=self.sessions,
            settings=self.settings,
            job_id=job.id,
            attempt=job.attempts,
            max_attempts=job.max_attempts,
            worker=self.name,
        )
        fields = {"job": job.id, "kind": job.kind, "attempt": job.attempts}
        retry_in: float | None
        self._current = job.id
        try:
            handler.fn(context, job.payload)
        except RetryLater as exc:
            error, retry_in = _describe(exc), exc.seconds
            log.warning("job.retry_later", error=error, seconds=retry_in, **fields)
        except PermanentFailure as exc:
            error, retry_in = _describe(exc), None
            log.warning("job.failed_permanently", error=error, **fields)
        except Exception as exc:
            error = _describe(exc)
            retry_in = service.backoff(
                job.attempts, base=self.settings.job_retry_seconds, cap=self.settings.job_retry_max_seconds
            )
            if isinstance(exc, LogCenterError):  # expected failure (forge down...): no traceback
                log.warning("job.error", error=error, **fields)
            else:
                log.exception("job.error", **fields)
        else:
            with session_scope(self.sessions) as session:
                held = service.complete(session, job.id, worker=self.name, now=clock())
            if not held:
                log.warning("job.lease_lost", **fields)
            return
        finally:
            self._current = None
        with session_scope(self.sessions) as session:
            state = service.record_failure(
                session, job, worker=self.name, error=error, now=clock(), retry_in=retry_in
            )
        if state is None:
            log.warning("job.lease_lost", **fields)
        elif state == JobState.FAILED:
            log.error("job.gave_up", error=error, **fields)

    # As a long-running thread (serve, an app's lifespan) or a process (`logcenter worker`)

    def run_forever(self) -> None:
        """Poll, schedule periodic kinds and run due jobs until `stop()`."""
        heartbeat = threading.Thread(target=self._heartbeat, name="logcenter-jobs-heartbeat", daemon=True)
        heartbeat.start()
        log.info("jobs.worker_started", worker=self.name, kinds=sorted(self.handlers))
        try:
            while not self._stop.is_set():
                try:
                    self.schedule()
                    while not self._stop.is_set() and self.run_once():
                        pass
                except Exception:  # the database went away: try again at the next poll
                    log.exception("jobs.worker_error", worker=self.name)
                service.wakeup.wait(self.settings.job_poll_seconds)
                service.wakeup.clear()
        finally:
            self._stop.set()
            heartbeat.join(5)
            log.info("jobs.worker_stopped", worker=self.name)

    def _heartbeat(self) -> None:
        interval = max(self.settings.job_lease_seconds / 3, 0.05)
        while not self._stop.wait(interval):
            job_id = self._current
            if job_id is None:
                continue
            try:
                with session_scope(self.sessions) as session:
                    service.extend_lease(session, job_id, worker=self.name, until=utcnow() + self.lease)
            except Exception:
                log.warning("jobs.heartbeat_failed", job=job_id, exc_info=True)

    def start(self) -> None:
        """Run `run_forever` on a daemon thread."""
        thread = threading.Thread(target=self.run_forever, name="logcenter-jobs", daemon=True)
        self._threads.append(thread)
        thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop after the job running now (waits up to `timeout`; a job still running then is reclaimed
        after its lease by the next worker)."""
        self._stop.set()
        service.wakeup.set()
        for thread in self._threads:
            thread.join(timeout)
            if thread.is_alive():
                log.warning("jobs.stop_timeout", worker=self.name, job=self._current)


def run_pending(
    sessions: sessionmaker[Session],
    settings: Settings,
    *,
    now: datetime | None = None,
    kinds: Iterable[str] | None = None,
    name: str = "run-pending",
) -> int:
    """Run every due job (of `kinds`, default all) now, in this thread; returns how many ran."""
    handlers = load_handlers()
    if kinds is not None:
        handlers = {k: handlers[k] for k in kinds}
    return Worker(sessions, settings, name=name, handlers=handlers, periodic=()).run_pending(now=now)
