"""Merge or reject a bug's fix from Log Center, and show its pull request: for the JSON API and the web UI.

Unlike other services these take the session factory, not a session: each reads what it needs in one short
transaction, calls the forge with no transaction open (a forge may take seconds; on SQLite a write
transaction would hold the only write lock meanwhile), then applies the forge's answer in a second short
transaction, in which the bug is read again: a webhook may have moved it in between.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass

import structlog
from cachetools import LRUCache
from sqlalchemy.orm import Session, sessionmaker

from logcenter.auth import projects as token_projects
from logcenter.automerge import designated
from logcenter.bugs import service as bugs_service
from logcenter.bugs.history import HistoryKind
from logcenter.bugs.models import Bug, BugStatus
from logcenter.config import Settings
from logcenter.db import session_scope
from logcenter.errors import Conflict, LogCenterError
from logcenter.forges.base import ForgeConflict, MergeStyle, PRState, PullRequest
from logcenter.projects import forge as project_forge
from logcenter.projects.models import Project
from logcenter.reviews import apply
from logcenter.reviews.schemas import BatchItem, ChangedFileRead, PullRequestView

log = structlog.get_logger(__name__)

MAX_DIFF_CHARS = 2_000_000


@dataclass(frozen=True)
class Reviewed:
    """A bug after a review action (detached: safe to read after its session closed), with its project."""

    bug: Bug
    project_slug: str
    outcome: str


@dataclass(frozen=True)
class _Ready:
    bug_id: int
    number: int
    target: project_forge.ForgeTarget
    merge_style: MergeStyle
    head_sha: str | None  # the head recorded with the PR (the agent's push, or a later push webhook)


def _load(session: Session, bug_id: int, *, action: str, settings: Settings) -> tuple[Bug, Project]:
    bug = bugs_service.get_bug(session, bug_id)
    project = session.get_one(Project, bug.project_id)
    if bug.status != BugStatus.PENDING_REVIEW:
        raise Conflict(f"Bug {bug_id} is {bug.status}: only a bug PENDING_REVIEW can be {action}")
    return bug, project


def _ready(session: Session, bug_id: int, *, action: str, settings: Settings) -> _Ready:
    bug, project = _load(session, bug_id, action=action, settings=settings)
    if bug.pr_number is None:
        raise Conflict(f"Bug {bug_id} has no pull request to {action.removesuffix('d')}")
    return _Ready(
        bug_id=bug.id,
        number=bug.pr_number,
        target=project_forge.target_for(project, settings),
        merge_style=project_forge.merge_style(project),
        head_sha=bug.head_sha,
    )


def _write(factory: sessionmaker[Session], bug_id: int, change: Callable[[Session, Bug], str]) -> Reviewed:
    with session_scope(factory) as session:
        bug = bugs_service.get_bug(session, bug_id, for_update=True)
        outcome = change(session, bug)
        session.flush()
        slug = bugs_service.project_slug(session, bug)
    return Reviewed(bug=bug, project_slug=slug, outcome=outcome)


def _record_merge(
    factory: sessionmaker[Session], bug_id: int, pr: PullRequest, *, actor: str, note: str | None
) -> Reviewed:
    return _write(
        factory,
        bug_id,
        lambda session, bug: apply.merged(
            session,
            bug,
            actor=actor,
            merged_by=pr.merged_by or actor,
            merge_commit=pr.merge_commit_sha.lower() if pr.merge_commit_sha else None,
            merged_at=pr.merged_at,
            number=pr.number,
            note=note,
            link=pr.url,
        ),
    )


def merge(
    factory: sessionmaker[Session],
    settings: Settings,
    bug_id: int,
    *,
    actor: str,
    merge_style: MergeStyle | None = None,
    note: str | None = None,
    expected_head_sha: str | None = None,
    admin: bool = False,
) -> Reviewed:
    """Merge the bug's PR at the head the reviewer saw, then MERGED. 409 if the PR moved or was closed; a PR
    merged on the forge already is recorded, not merged twice; 502 when the forge fails (bug unchanged).
    403 when the project has designated reviewers and `actor` is neither one of them nor `admin`."""
    with session_scope(factory, write=False) as session:
        ready = _ready(session, bug_id, action="merged", settings=settings)
        designated.check_may_merge(session, bug_id=bug_id, actor=actor, admin=admin)
    style = merge_style or ready.merge_style
    expected_head_sha = expected_head_sha or ready.head_sha
    with closing(project_forge.connect(ready.target)) as forge:
        pr = forge.get_pull_request(ready.number)
        if not pr.merged:
            if pr.state == PRState.CLOSED:
                raise Conflict(
                    f"PR #{ready.number} was closed without merging on the forge; it cannot be merged"
                )
            if not expected_head_sha:
                raise Conflict(
                    f"PR #{ready.number}: no reviewed head is known (the fix was not reported with one); "
                    f"pass expected_head_sha, the head you reviewed (now {pr.head_sha[:12]})"
                )
            if not pr.head_sha.lower().startswith(expected_head_sha.lower()):
                raise Conflict(
                    f"PR #{ready.number} moved since it was reviewed: its head is now {pr.head_sha[:12]}, "
                    f"reviewed at {expected_head_sha[:12]}; review it again"
                )
            # At the head just read (the reviewed one, when given): a push in between makes the forge refuse.
            pr = forge.merge_pull_request(ready.number, style=style, expected_head_sha=pr.head_sha)
    _forget(ready.target, ready.number)
    merged_note = note or f"PR #{ready.number} merged from Log Center ({style})"
    result = _record_merge(factory, bug_id, pr, actor=actor, note=merged_note)
    log.info("review.merged", bug=bug_id, pr=ready.number, actor=actor, outcome=result.outcome)
    return result


def reject(
    factory: sessionmaker[Session], settings: Settings, bug_id: int, *, actor: str, reason: str
) -> Reviewed:
    """Comment the reason on the PR and close it, then FAILED. 409 if the PR was merged meanwhile (the bug
    becomes MERGED); 502 when the forge fails (bug unchanged)."""
    with session_scope(factory, write=False) as session:
        bug, project = _load(session, bug_id, action="rejected", settings=settings)
        number = bug.pr_number
        target = project_forge.target_for(project, settings) if number is not None else None
    failure = f"Rejected by {actor}: {reason}"
    if number is not None and target is not None:
        with closing(project_forge.connect(target)) as forge:
            pr = forge.get_pull_request(number)
            if not pr.merged:
                forge.comment(number, f"Rejected in Log Center by {actor}:\n\n{reason}")
                if pr.state == PRState.OPEN:
                    try:
                        forge.close_pull_request(number)
                    except ForgeConflict:  # merged between the read and the close: the forge says so
                        pr = forge.get_pull_request(number)
                        if not pr.merged:
                            raise
            if pr.merged:
                _record_merge(
                    factory, bug_id, pr, actor=f"{pr.merged_by or 'someone'} ({target.kind})", note=None
                )
                raise Conflict(f"PR #{number} is already merged on the forge: bug {bug_id} is now MERGED")
        _forget(target, number)
        failure = f"PR #{number} rejected by {actor}: {reason}"
    result = _write(
        factory,
        bug_id,
        lambda session, bug: apply.closed(
            session, bug, actor=actor, number=number, reason=failure, kind=HistoryKind.STATUS
        ),
    )
    log.info("review.rejected", bug=bug_id, pr=number, actor=actor, outcome=result.outcome)
    return result


def _batch(
    factory: sessionmaker[Session],
    bug_ids: list[int],
    one: Callable[[int], Reviewed],
    within: frozenset[int] | None,
) -> list[BatchItem]:
    """Each bug on its own: one failure does not stop the others. Bugs outside the projects `within` (a
    token restricted to projects) are answered as unknown ones."""
    with session_scope(factory, write=False) as session:
        foreign = token_projects.outside(session, within, bug_ids)
    results = []
    for bug_id in dict.fromkeys(bug_ids):
        if bug_id in foreign:
            unknown = f"Bug {bug_id} not found"
            results.append(BatchItem(bug_id=bug_id, ok=False, status_code=404, error=unknown))
            continue
        try:
            done = one(bug_id)
            results.append(BatchItem(bug_id=bug_id, ok=True, status=done.bug.status, outcome=done.outcome))
        except LogCenterError as exc:
            results.append(BatchItem(bug_id=bug_id, ok=False, status_code=exc.status_code, error=exc.message))
    return results


def merge_many(
    factory: sessionmaker[Session],
    settings: Settings,
    bug_ids: list[int],
    *,
    actor: str,
    merge_style: MergeStyle | None = None,
    note: str | None = None,
    admin: bool = False,
    within: frozenset[int] | None = None,
) -> list[BatchItem]:
    """Merge several bugs' PRs (of the projects `within`, when given); each result reported separately."""
    return _batch(
        factory,
        bug_ids,
        lambda i: merge(factory, settings, i, actor=actor, merge_style=merge_style, note=note, admin=admin),
        within,
    )


def reject_many(
    factory: sessionmaker[Session],
    settings: Settings,
    bug_ids: list[int],
    *,
    actor: str,
    reason: str,
    within: frozenset[int] | None = None,
) -> list[BatchItem]:
    """Reject several bugs' PRs (of the projects `within`, when given); each result reported separately."""
    return _batch(
        factory, bug_ids, lambda i: reject(factory, settings, i, actor=actor, reason=reason), within
    )


# The pull request's page -----------------------------------------------------------------------------------

# (API URL, repository, PR number, the head the bug records) → (when fetched, view): a project pointed at
# another forge misses it, and so does a fix revised since (the agent reported a new head).
_cache: LRUCache[tuple[str, str, int, str], tuple[float, PullRequestView]] = LRUCache(maxsize=512)
_cache_lock = threading.Lock()


def _cache_key(target: project_forge.ForgeTarget, number: int, head: str | None) -> tuple[str, str, int, str]:
    return (target.api_url, target.repo.lower(), number, head or "")


def _forget(target: project_forge.ForgeTarget, number: int) -> None:
    with _cache_lock:
        for key in [k for k in _cache if k[:3] == _cache_key(target, number, None)[:3]]:
            _cache.pop(key, None)


def pull_request(factory: sessionmaker[Session], settings: Settings, bug_id: int) -> PullRequestView:
    """The bug's PR as the forge shows it now: state, changed files with +/- and the unified diff (the same
    answer is reused for `pull_request_cache_seconds`)."""
    with session_scope(factory, write=False) as session:
        bug = bugs_service.get_bug(session, bug_id)
        if bug.pr_number is None:
            raise Conflict(f"Bug {bug_id} has no pull request")
        project = session.get_one(Project, bug.project_id)
        target = project_forge.target_for(project, settings)
        number, head = bug.pr_number, bug.head_sha
    key = _cache_key(target, number, head)
    with _cache_lock:
        cached = _cache.get(key)
    if cached is not None and time.monotonic() - cached[0] < settings.pull_request_cache_seconds:
        return cached[1]
    with closing(project_forge.connect(target)) as forge:
        pr = forge.get_pull_request(number)
        files = forge.pull_request_files(number)
        diff = forge.pull_request_diff(number)
    view = PullRequestView(
        number=pr.number,
        url=pr.url,
        title=pr.title,
        state=pr.state,
        merged=pr.merged,
        head_branch=pr.head_branch,
        head_sha=pr.head_sha,
        base_branch=pr.base_branch,
        merge_commit_sha=pr.merge_commit_sha,
        merged_by=pr.merged_by,
        merged_at=pr.merged_at,
        author=pr.author,
        files=[ChangedFileRead(**vars(f)) for f in files],
        additions=sum(f.additions for f in files),
        deletions=sum(f.deletions for f in files),
        diff=diff[:MAX_DIFF_CHARS],
        diff_truncated=len(diff) > MAX_DIFF_CHARS,
    )
    with _cache_lock:
        _cache[key] = (time.monotonic(), view)
    return view
