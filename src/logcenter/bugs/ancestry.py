"""Regressions the forge decides: does the commit a report came from contain the fix's merge commit?

The ingest writer compares commits only as equal or not (bugs/regression.py): asking the forge is slow I/O,
which never runs in its transaction. When a report of a fixed bug names a commit that equality cannot place
and the project has a forge repository, the writer queues a `bugs.regression_check` job instead of deciding
(`Checks`); the job asks the forge and reopens the bug, or notes that the commit predates the fix (the writer
then knows that commit), or, when the forge cannot answer after the job's last attempt, applies the rule
without the forge (a DEPLOYED bug reopens, a MERGED one stays).
"""

from __future__ import annotations

from typing import Any

import structlog
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from logcenter.bugs import workflow
from logcenter.bugs.history import HistoryKind, record_note
from logcenter.bugs.models import Bug, BugEvent, BugStatus
from logcenter.bugs.regression import note as regression_note
from logcenter.bugs.regression import reopens, same_commit
from logcenter.db import session_scope
from logcenter.errors import LogCenterError
from logcenter.jobs import service as jobs
from logcenter.jobs.models import Job, JobState
from logcenter.jobs.registry import JobContext, handler
from logcenter.projects import forge as project_forge
from logcenter.projects.models import Project

log = structlog.get_logger(__name__)

CHECK = "bugs.regression_check"
ACTOR = "ingest"
# A bug reported from more unplaced commits than this at once is decided without the forge (as before these
# checks): reports are unauthenticated, and each check costs forge calls.
MAX_PENDING_CHECKS = 10
_PREDATES = "not a regression: commit "
_MERGE = " does not contain merge commit "


def _dedupe_key(bug_id: int, commit: str) -> str:
    return f"{CHECK}:{bug_id}:{commit}"


class Checks:
    """What the ingest writer knows about one fixed bug's commits: loaded at most once, only when a report
    names a commit it cannot place."""

    def __init__(self, session: Session, bug: Bug) -> None:
        self.session, self.bug = session, bug
        self._forge: bool | None = None
        self._predating: list[str] | None = None
        self.wanted: dict[str, tuple[str | None, str | None]] = {}  # commit -> the report's version, commit

    def can_ask(self) -> bool:
        """Has the bug a merge commit, and its project a forge repository, to ask about?"""
        if self._forge is None:
            project = self.session.get(Project, self.bug.project_id) if self.bug.merge_commit_sha else None
            self._forge = project is not None and project_forge.repo_path(project) is not None
        return self._forge

    def predates(self, commit: str) -> bool:
        """Did the forge say before that `commit` does not contain this merge? (The job's history note.)"""
        merge = self.bug.merge_commit_sha or ""
        if self._predating is None:
            notes = self.session.scalars(
                select(BugEvent.note).where(
                    BugEvent.bug_id == self.bug.id,
                    BugEvent.kind == HistoryKind.NOTE,
                    BugEvent.actor == ACTOR,
                    BugEvent.note.startswith(_PREDATES, autoescape=True),
                )
            )
            parts = (n[len(_PREDATES) :].partition(_MERGE) for n in notes if n)
            self._predating = [c for c, _, m in parts if same_commit(m[:12], merge)]
        return any(same_commit(commit, seen) for seen in self._predating)

    def want(self, commit: str, *, version: str | None, commit_hash: str | None) -> None:
        self.wanted.setdefault(commit, (version, commit_hash))

    def enqueue(self) -> bool:
        """Queue the wanted checks (one pending per bug and commit); False when too many are pending already,
        and the caller decides without the forge."""
        pending = self.session.scalar(
            select(func.count(Job.id)).where(
                Job.kind == CHECK,
                Job.state.in_((JobState.QUEUED, JobState.RUNNING)),
                Job.dedupe_key.startswith(f"{CHECK}:{self.bug.id}:", autoescape=True),
            )
        )
        if (pending or 0) + len(self.wanted) > MAX_PENDING_CHECKS:
            return False
        for commit, (version, commit_hash) in self.wanted.items():
            payload = {
                "bug_id": self.bug.id,
                "commit": commit,
                "merge_commit": self.bug.merge_commit_sha,
                "version": version,
                "commit_hash": commit_hash,
            }
            jobs.enqueue(self.session, CHECK, payload, dedupe_key=_dedupe_key(self.bug.id, commit))
        return True


@handler(CHECK)
def check_regression(ctx: JobContext, payload: dict[str, Any]) -> None:
    """Ask the forge whether the report's commit contains the merge commit, then reopen or note it."""
    bug_id, commit, merge = int(payload["bug_id"]), str(payload["commit"]), str(payload["merge_commit"])
    failure = ""
    with session_scope(ctx.sessions, write=False) as session:
        bug = session.get(Bug, bug_id)
        if not _still_fixed(bug, merge):
            return
        assert bug is not None
        project = session.get_one(Project, bug.project_id)
        try:
            target = project_forge.target_for(project, ctx.settings)
        except project_forge.ForgeNotConfigured as exc:
            target, failure = None, exc.message
    answer: bool | None = None
    if target is not None:
        client = None
        try:
            client = project_forge.connect(target)
            answer = client.contains_commit(merge, in_commit=commit)
        except Exception as exc:  # ForgeError, no answer, an unknown commit (404): retried as jobs are
            if ctx.attempt < ctx.max_attempts:
                raise
            failure = exc.message if isinstance(exc, LogCenterError) else type(exc).__name__
        finally:
            if client is not None:
                client.close()
    with session_scope(ctx.sessions) as session:
        bug = session.scalar(select(Bug).where(Bug.id == bug_id).with_for_update())
        if not _still_fixed(bug, merge):
            return
        assert bug is not None
        version, commit_hash = payload.get("version"), payload.get("commit_hash")
        if answer is False:
            text = f"{_PREDATES}{commit}{_MERGE}{merge[:12]} (checked with the forge): {bug.status} stays"
            record_note(session, bug, kind=HistoryKind.NOTE, actor=ACTOR, note=text)
        elif answer is True:
            text = regression_note(bug.status, version=version, commit=commit_hash, checked=True)
            workflow.reopen(session, bug, actor=ACTOR, note=text)
        elif reopens(bug.status, None):
            text = regression_note(bug.status, version=version, commit=commit_hash)
            workflow.reopen(session, bug, actor=ACTOR, note=f"{text} (the forge could not tell: {failure})")
        elif not _noted(session, bug_id, unknown := f"commit {commit}: the forge could not tell"):
            # Once per commit: without an answer, each new report of that commit is checked again.
            text = f"{unknown} whether it contains the fix ({failure}): {bug.status} stays"
            record_note(session, bug, kind=HistoryKind.NOTE, actor=ACTOR, note=text)
    log.info("bugs.regression_checked", bug=bug_id, commit=commit, contains=answer)


def _noted(session: Session, bug_id: int, prefix: str) -> bool:
    found = select(BugEvent.id).where(
        BugEvent.bug_id == bug_id,
        BugEvent.kind == HistoryKind.NOTE,
        BugEvent.actor == ACTOR,
        BugEvent.note.startswith(prefix, autoescape=True),
    )
    return session.scalar(found.limit(1)) is not None


def _still_fixed(bug: Bug | None, merge: str) -> bool:
    """The bug may have moved since the report: only a bug still fixed by the same merge is touched."""
    return (
        bug is not None
        and bug.status in (BugStatus.DEPLOYED, BugStatus.MERGED)
        and bool(bug.merge_commit_sha)
        and same_commit(bug.merge_commit_sha or "", merge)
    )


__all__ = ["CHECK", "Checks", "check_regression"]
