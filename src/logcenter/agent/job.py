"""A bug being fixed: the job and the flag that stops it, how its run ends (a Failure, Cancelled, an Outcome),
and what the run has got so far (Steps, Attempt)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from logcenter.agent.git import Repository
from logcenter.repair.schemas import ClaimedBug, RepairReportIn


class Failure(Exception):
    """The run failed at step `code`: FAILED with `code: message` and the evidence."""

    def __init__(self, code: str, message: str, evidence: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.evidence = evidence


class Cancelled(Exception):
    """The agent is stopping (SIGTERM) or lost the lease: give the bug back, or leave it."""


@dataclass
class Job:
    """A bug being fixed, with the flag that stops it."""

    bug: ClaimedBug
    cancel: threading.Event = field(default_factory=threading.Event)
    why: str = ""  # "stop" (give the bug back) or "lost" (the lease is gone: touch nothing)
    step: str = "claimed"

    def stop(self, why: str) -> None:
        if not self.cancel.is_set():
            self.why = why
            self.cancel.set()

    def check(self) -> None:
        if self.cancel.is_set():
            raise Cancelled(self.why)


@dataclass
class Outcome:
    bug_id: int
    status: str  # PENDING_REVIEW / FAILED / RELEASED / LOST / DRY_RUN
    reason: str | None = None
    message: str = ""
    pr_number: int | None = None
    pr_url: str | None = None
    branch: str | None = None
    report: RepairReportIn | None = None


class Steps:
    """Durations per step, for the report."""

    def __init__(self) -> None:
        self.durations: dict[str, float] = {}
        self.start = time.monotonic()

    @contextmanager
    def __call__(self, name: str, job: Job) -> Iterator[None]:
        job.step = name
        begin = time.monotonic()
        try:
            yield
        finally:
            self.durations[name] = round(self.durations.get(name, 0.0) + time.monotonic() - begin, 3)

    @property
    def total(self) -> float:
        return round(time.monotonic() - self.start, 3)


@dataclass
class Attempt:
    """What the run has got so far: a failed report tells it, and the clean-up removes what it made."""

    fixer: str | None = None
    analysis: str | None = None
    modified: list[str] = field(default_factory=list)
    diff: str | None = None
    test_passed: bool | None = None
    branch_kept: str | None = None  # the branch the verified fix is committed on
    repo: Repository | None = None
    worktree: Path | None = None
    base_worktree: Path | None = None  # the new tests alone on the base commit
    prompt_file: Path | None = None
    timings: dict[str, float] = field(default_factory=dict)  # fixer_run, tests_after, tests_before
