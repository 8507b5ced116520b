"""The review actions of the UI (merge, reject, request changes, retry, mark failed, batch) and what the PR
card shows.

One small module between the pages and the services, so the pages do not care which service does the work:
retry and mark-failed are the bug service's; merging and rejecting act on the forge through the reviews
service (logcenter.reviews), and the PR card reads the pull request from there too, falling back to what the
repair agent reported when the forge cannot be asked.
Each action runs in its own transaction: one bug's failure in a batch does not undo the others'.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy.orm import Session, sessionmaker

from logcenter.bugs import service as bugs_service
from logcenter.bugs.models import Bug, BugStatus
from logcenter.bugs.service import BugDetails
from logcenter.config import Settings
from logcenter.db import session_scope
from logcenter.errors import LogCenterError, Unavailable
from logcenter.revisions import service as revisions_service


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


def _reviews_service() -> Any:
    """The reviews service (merge / reject through the forge), or None on a server built without it."""
    try:  # imported by name: the reviews feature ships in the same package, on its own schedule
        return importlib.import_module("logcenter.reviews.service")
    except ImportError:
        return None


def pull_request(
    factory: sessionmaker[Session], settings: Settings, details: BugDetails, *, default_branch: str | None
) -> PullRequestView | None:
    """The PR of the bug's current fix: as the forge shows it now (reviews service), else as the agent
    reported it (files, diff, branch), with the reason the forge could not be asked."""
    bug = details.bug
    if not bug.pr_number:
        return None
    report = next((r for r in reversed(details.repair_reports) if r.pr_number == bug.pr_number), None)
    stored = PullRequestView(
        number=bug.pr_number,
        url=bug.pr_url,
        title=f"fix: auto repair bug #{bug.id}",
        state=_state_from_status(bug.status),
        head_branch=bug.branch_name or (report.branch_name if report else None),
        base_branch=default_branch,
        head_sha=getattr(bug, "head_sha", None),
        files=_files_of(report.diff if report else None, report.modified_files if report else []),
        diff=report.diff if report else None,
        forge=_forge_of(bug.pr_url),
    )
    reviews_service = _reviews_service()
    if reviews_service is None:
        return stored
    try:
        live = reviews_service.pull_request(factory, settings, bug.id)
    except LogCenterError as exc:  # forge not configured, unreachable, failing: show what is stored
        stored.error = exc.message
        return stored
    return PullRequestView(
        number=live.number,
        url=live.url,
        title=live.title,
        state="merged" if live.merged else str(live.state),
        head_branch=live.head_branch,
        base_branch=live.base_branch,
        head_sha=live.head_sha,
        files=[(f.filename, f.additions, f.deletions) for f in live.files],
        diff=live.diff,
        forge=stored.forge,
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


def merge(
    factory: sessionmaker[Session],
    settings: Settings,
    *,
    bug_id: int,
    actor: str,
    expected_head_sha: str | None,
    admin: bool = False,
) -> Bug:
    """Approve and merge the bug's PR at the reviewed head sha → MERGED (409 if the PR moved since; 403 if the
    project has designated reviewers and the user is neither one of them nor an admin)."""
    reviews_service = _reviews_service()
    if reviews_service is None:
        raise Unavailable(
            "Merging from Log Center needs the reviews service, which this server does not have"
        )
    done = reviews_service.merge(
        factory, settings, bug_id, actor=actor, expected_head_sha=expected_head_sha, admin=admin
    )
    return cast(Bug, done.bug)


def reject(
    factory: sessionmaker[Session], settings: Settings, *, bug_id: int, actor: str, reason: str
) -> Bug:
    """Reject the fix with a reason: commented on the PR, which is closed → FAILED."""
    reviews_service = _reviews_service()
    if reviews_service is None:
        with session_scope(factory) as session:
            return bugs_service.mark_failed(session, bug_id, actor=actor, reason=reason)
    done = reviews_service.reject(factory, settings, bug_id, actor=actor, reason=reason)
    return cast(Bug, done.bug)


def request_revision(
    factory: sessionmaker[Session], settings: Settings, *, bug_id: int, actor: str, comment: str, admin: bool
) -> Bug:
    """Send the fix back to the repair agent with the reviewer's comment (PENDING_REVIEW → FIXING)."""
    with session_scope(factory) as session:
        return revisions_service.request_in_log_center(
            session, settings, bug_id, actor=actor, comment=comment, admin=admin
        )


def retry(factory: sessionmaker[Session], *, bug_id: int, actor: str) -> Bug:
    with session_scope(factory) as session:
        return bugs_service.retry(session, bug_id, actor=actor)


def mark_failed(factory: sessionmaker[Session], *, bug_id: int, actor: str, reason: str) -> Bug:
    with session_scope(factory) as session:
        return bugs_service.mark_failed(session, bug_id, actor=actor, reason=reason)


def batch(
    factory: sessionmaker[Session],
    settings: Settings,
    *,
    bug_ids: list[int],
    action: str,
    actor: str,
    reason: str,
    admin: bool = False,
) -> list[BatchResult]:
    """Merge or reject each bug on its own; returns every bug's result."""
    results = []
    for bug_id in dict.fromkeys(bug_ids):
        try:
            if action == "merge":
                bug = merge(
                    factory, settings, bug_id=bug_id, actor=actor, expected_head_sha=None, admin=admin
                )
            else:
                reason = reason or "Rejected in batch review"
                bug = reject(factory, settings, bug_id=bug_id, actor=actor, reason=reason)
            results.append(BatchResult(bug_id, True, bug.status, ""))
        except LogCenterError as exc:
            results.append(BatchResult(bug_id, False, None, exc.message))
    return results
