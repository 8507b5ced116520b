"""Review API: merge or reject a fix (one bug or many) and read its pull request.

No request transaction here (no SessionDep): the services open short ones around their forge calls.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request

from logcenter.auth.deps import Reviewer, ReviewReader
from logcenter.auth.models import Scope
from logcenter.bugs.schemas import MAX_ID, BugRead
from logcenter.config import Settings
from logcenter.forges.base import MergeStyle
from logcenter.reviews import service
from logcenter.reviews.schemas import (
    BatchItem,
    BatchMergeIn,
    BatchRejectIn,
    BatchResult,
    MergeIn,
    PullRequestView,
    RejectIn,
    ReviewedBug,
)

router = APIRouter(prefix="/api/v1/bugs", tags=["reviews"])

BugId = Annotated[int, Path(ge=1, le=MAX_ID)]

_ERRORS: dict[int | str, dict[str, Any]] = {
    409: {"description": "The bug is not PENDING_REVIEW, has no PR, or the PR moved / was closed"},
    502: {"description": "The forge failed or did not answer; the bug is unchanged"},
}


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _answer(done: service.Reviewed) -> ReviewedBug:
    data = {k: getattr(done.bug, k) for k in BugRead.model_fields if k != "project_id"}
    return ReviewedBug(project_id=done.project_slug, outcome=done.outcome, **data)


def _batch(results: list[BatchItem]) -> BatchResult:
    ok = sum(1 for r in results if r.ok)
    return BatchResult(succeeded=ok, failed=len(results) - ok, results=results)


@router.post("/merge", response_model=BatchResult, summary="Merge the PRs of several bugs")
def merge_many(body: BatchMergeIn, request: Request, who: Reviewer) -> BatchResult:
    """Each bug is merged on its own; one failing merge does not stop the others."""
    style = MergeStyle(body.merge_style) if body.merge_style else None
    return _batch(
        service.merge_many(
            request.app.state.session_factory,
            _settings(request),
            body.bug_ids,
            actor=who.name,
            merge_style=style,
            note=body.note,
            admin=who.scope == Scope.ADMIN,
            within=who.projects,
        )
    )


@router.post("/reject", response_model=BatchResult, summary="Reject the PRs of several bugs")
def reject_many(body: BatchRejectIn, request: Request, who: Reviewer) -> BatchResult:
    return _batch(
        service.reject_many(
            request.app.state.session_factory,
            _settings(request),
            body.bug_ids,
            actor=who.name,
            reason=body.reason,
            within=who.projects,
        )
    )


@router.post(
    "/{bug_id}/merge", response_model=ReviewedBug, responses=_ERRORS, summary="Merge the fix's PR → MERGED"
)
def merge(bug_id: BugId, request: Request, who: Reviewer, body: MergeIn | None = None) -> ReviewedBug:
    """Merges at `expected_head_sha` (the head the reviewer saw) when given; a PR already merged on the
    forge is recorded as it is."""
    body = body or MergeIn()
    done = service.merge(
        request.app.state.session_factory,
        _settings(request),
        bug_id,
        actor=who.name,
        merge_style=MergeStyle(body.merge_style) if body.merge_style else None,
        note=body.note,
        expected_head_sha=body.expected_head_sha,
        admin=who.scope == Scope.ADMIN,
    )
    return _answer(done)


@router.post(
    "/{bug_id}/reject",
    response_model=ReviewedBug,
    responses=_ERRORS,
    summary="Comment the reason on the PR, close it → FAILED",
)
def reject(bug_id: BugId, body: RejectIn, request: Request, who: Reviewer) -> ReviewedBug:
    done = service.reject(
        request.app.state.session_factory, _settings(request), bug_id, actor=who.name, reason=body.reason
    )
    return _answer(done)


@router.get(
    "/{bug_id}/pull-request",
    response_model=PullRequestView,
    responses=_ERRORS,
    summary="The fix's PR: state, changed files and diff",
)
def pull_request(bug_id: BugId, request: Request, _: ReviewReader) -> PullRequestView:
    return service.pull_request(request.app.state.session_factory, _settings(request), bug_id)
