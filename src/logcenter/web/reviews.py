"""The review actions of the UI (merge, reject, retry, mark failed, batch) and what the PR card shows.

One small module between the pages and the services, so the pages do not care which service does the work:
retry and mark-failed are the bug workflow's; merging and rejecting act on the forge through the reviews
service when it is installed (logcenter.reviews), and the PR card reads the pull request from there too.
Each action runs in its own transaction: one bug's failure in a batch does not undo the others'.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.orm import Session, sessionmaker

from logcenter.bugs import service as bugs_service
from logcenter.bugs.models import Bug, BugStatus
from logcenter.bugs.service import BugDetails
from logcenter.db import session_scope
from logcenter.errors import LogCenterError, Unavailable


@dataclass
class PullRequestView:
    """What the PR card and the diff viewer show; `head_sha` is what a reviewer approves."""

    number: int
    url: str | None
    title: str
    state: str  # open / merged / closed
    head_branch: str | None
    base_branch: str | None
    head_sha: str | None
    files: list[tuple[str, int, int]] = field(default_factory=list)  # path, additions, deletions
    diff: str | None = None
    forge: str | None = None  # gitea / github / gitlab, for the "review on ..." button
    error: str | None = None  # why the forge could not be asked (the card still shows what is stored)


@dataclass(frozen=True)
class BatchResult:
    bug_id: int
    ok: bool
    status: str | None
    message: str


def _state_from_status(status: str) -> str:
    if status in (BugStatus.MERGED, BugStatus.DEPLOYED):
        return "merged"
    if status == BugStatus.FAILED:
        return "closed"
    return "open"


def pull_request(
    session: Session, details: BugDetails, *, default_branch: str | None
) -> PullRequestView | None:
    """The PR of the bug's current fix, from what the agent reported (files, diff, branch)."""
    bug = details.bug
    if not bug.pr_number:
        return None
    report = next((r for r in reversed(details.repair_reports) if r.pr_number == bug.pr_number), None)
    diff = report.diff if report else None
    return PullRequestView(
        number=bug.pr_number,
        url=bug.pr_url,
        title=f"fix: auto repair bug #{bug.id}",
        state=_state_from_status(bug.status),
        head_branch=bug.branch_name or (report.branch_name if report else None),
        base_branch=default_branch,
        head_sha=None,
        files=_files_of(diff, report.modified_files if report else []),
        diff=diff,
        forge=_forge_of(bug.pr_url),
    )


def _files_of(diff: str | None, modified: list[str]) -> list[tuple[str, int, int]]:
    if diff:
        from logcenter.web.highlight import parse_diff

        return [(f.path, f.added, f.removed) for f in parse_diff(diff, max_lines=0)]
    return [(path, 0, 0) for path in modified]


def _forge_of(url: str | None) -> str | None:
    if not url:
        return None
    if "github" in url:
        return "github"
    if "gitlab" in url or "/-/merge_requests/" in url:
        return "gitlab"
    return "gitea"


def merge(factory: sessionmaker[Session], *, bug_id: int, actor: str, expected_head_sha: str | None) -> Bug:
    """Approve and merge the bug's PR at the reviewed head sha → MERGED."""
    raise Unavailable("Merging from Log Center needs the reviews service, which this server does not have")


def reject(factory: sessionmaker[Session], *, bug_id: int, actor: str, reason: str) -> Bug:
    """Reject the fix with a reason → FAILED."""
    with session_scope(factory) as session:
        return bugs_service.mark_failed(session, bug_id, actor=actor, reason=reason)


def retry(factory: sessionmaker[Session], *, bug_id: int, actor: str) -> Bug:
    with session_scope(factory) as session:
        return bugs_service.retry(session, bug_id, actor=actor)


def mark_failed(factory: sessionmaker[Session], *, bug_id: int, actor: str, reason: str) -> Bug:
    with session_scope(factory) as session:
        return bugs_service.mark_failed(session, bug_id, actor=actor, reason=reason)


def batch(
    factory: sessionmaker[Session], *, bug_ids: list[int], action: str, actor: str, reason: str
) -> list[BatchResult]:
    """Merge or reject each bug on its own; returns every bug's result."""
    results = []
    for bug_id in dict.fromkeys(bug_ids):
        try:
            if action == "merge":
                bug = merge(factory, bug_id=bug_id, actor=actor, expected_head_sha=None)
            else:
                bug = reject(factory, bug_id=bug_id, actor=actor, reason=reason or "Rejected in batch review")
            results.append(BatchResult(bug_id, True, bug.status, ""))
        except LogCenterError as exc:
            results.append(BatchResult(bug_id, False, None, exc.message))
    return results
