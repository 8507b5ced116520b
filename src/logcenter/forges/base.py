"""The one interface every forge client implements (Gitea, GitHub, GitLab), and the values it returns.

The server (webhooks, merge / reject from Log Center, the PR sync job) and the repair agent (opening a PR)
both talk to a forge only through `Forge`; `logcenter.forges.make_forge` picks the implementation from a
config. Forge failures raise `ForgeError`, whose message names the forge, the call and the HTTP status, never
a token.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Protocol

from logcenter.errors import LogCenterError


class ForgeKind(StrEnum):
    GITEA = "gitea"
    GITHUB = "github"
    GITLAB = "gitlab"


class MergeStyle(StrEnum):
    MERGE = "merge"
    SQUASH = "squash"
    REBASE = "rebase"


class PRState(StrEnum):
    OPEN = "open"
    CLOSED = "closed"  # closed without merging
    MERGED = "merged"


class ForgeError(LogCenterError):
    """A forge call that failed: `ForgeError("gitea", "merge PR #7", 405, "not mergeable")`.

    Maps to 502 at the API edge (the forge, not the caller, failed) unless a subclass says otherwise.
    """

    status_code = 502

    def __init__(self, forge: str, call: str, status: int | None, detail: str = "") -> None:
        self.forge, self.call, self.forge_status = forge, call, status
        where = f"HTTP {status}" if status is not None else "no answer"
        super().__init__(f"{forge}: {call} failed ({where}){': ' + detail if detail else ''}")


class ForgeConflict(ForgeError):
    """The forge refused because the PR changed: it moved past the reviewed head sha, or is not mergeable."""

    status_code = 409


@dataclass(frozen=True)
class ForgeConfig:
    """Where and how to reach one repository. `token` is a secret: never log or return it."""

    kind: ForgeKind
    api_url: (
        str  # API base: https://gitea.example/api/v1, https://api.github.com, https://gitlab.example/api/v4
    )
    repo: str  # "owner/name" (GitLab: the project path "group/sub/name")
    token: str = field(repr=False)
    timeout: float = 15.0
    max_retries: int = 3


@dataclass(frozen=True)
class RepoInfo:
    full_name: str
    default_branch: str
    clone_url: str
    html_url: str


@dataclass(frozen=True)
class ChangedFile:
    filename: str
    status: str  # added / modified / deleted / renamed
    additions: int
    deletions: int


@dataclass(frozen=True)
class PullRequest:
    number: int
    url: str  # the page a human opens (html_url / web_url)
    title: str
    state: PRState
    head_branch: str
    head_sha: str
    base_branch: str
    merged: bool = False
    merge_commit_sha: str | None = None
    merged_by: str | None = None
    merged_at: datetime | None = None
    author: str | None = None


class CheckState(StrEnum):
    """The combined verdict of a commit's statuses and check runs."""

    SUCCESS = "success"
    PENDING = "pending"
    FAILURE = "failure"
    NONE = "none"  # nothing reported for the commit (no CI, or not yet started)


@dataclass(frozen=True)
class Check:
    name: str
    state: CheckState
    url: str | None = None


@dataclass(frozen=True)
class CommitChecks:
    """Statuses and check runs of one commit, with the combined state: any failure fails, any pending
    keeps it pending, all success succeeds."""

    sha: str
    state: CheckState
    checks: tuple[Check, ...] = ()


def combine_checks(sha: str, checks: list[Check]) -> CommitChecks:
    """One verdict from many checks, the way forges show it on a PR."""
    states = {c.state for c in checks}
    if not checks:
        state = CheckState.NONE
    elif CheckState.FAILURE in states:
        state = CheckState.FAILURE
    elif CheckState.PENDING in states:
        state = CheckState.PENDING
    else:
        state = CheckState.SUCCESS
    return CommitChecks(sha=sha, state=state, checks=tuple(checks))


@dataclass(frozen=True)
class PRComment:
    """A comment or review on a PR, for the bug's history."""

    id: str
    author: str
    body: str
    url: str | None
    created_at: datetime | None
    kind: str = "comment"  # comment / review / review_comment
    state: str | None = None  # a review's verdict: APPROVED / REQUEST_CHANGES / COMMENT


def refuse_unmergeable(
    forge: str, call: str, current: PullRequest, expected_head_sha: str | None, *, closed: str, moved: str
) -> None:
    """ForgeConflict when an unmerged PR cannot be merged as reviewed: it is closed, or its head is no longer
    `expected_head_sha`. Every client checks this before it asks its forge to merge."""
    if current.state is PRState.CLOSED:
        raise ForgeConflict(forge, call, None, closed)
    if expected_head_sha and current.head_sha != expected_head_sha:
        raise ForgeConflict(forge, call, None, f"{moved} moved to {current.head_sha[:12]} since review")


def parse_time(value: Any) -> datetime | None:
    """A forge timestamp as an aware datetime: RFC 3339 (`Z` or offset) or GitLab's webhook form
    `2026-01-02 03:04:05 UTC`; None for null or Go's zero time."""
    if not value or not isinstance(value, str) or value.startswith("0001-01-01"):
        return None
    try:
        parsed = datetime.fromisoformat(value.removesuffix(" UTC").replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def pulls_pull_request(data: dict[str, Any], *, merged: bool, head_branch: str) -> PullRequest:
    """A PullRequest from the `pull-request` object GitHub and Gitea share (API answer or webhook
    `pull_request`); `merged` and `head_branch` are read the way each forge needs."""
    head, base = data.get("head") or {}, data.get("base") or {}
    return PullRequest(
        number=int(data["number"]),
        url=data.get("html_url") or "",
        title=data.get("title") or "",
        state=PRState.MERGED if merged else PRState(data.get("state") or "open"),
        head_branch=head_branch,
        head_sha=head.get("sha") or "",
        base_branch=base.get("ref") or "",
        merged=merged,
        merge_commit_sha=(data.get("merge_commit_sha") or None) if merged else None,
        merged_by=((data.get("merged_by") or {}).get("login")) if merged else None,
        merged_at=parse_time(data.get("merged_at")) if merged else None,
        author=(data.get("user") or {}).get("login"),
    )


def pulls_comment(data: dict[str, Any], kind: str = "comment") -> PRComment:
    """A comment as GitHub and Gitea list them; review comments get ids of their own (`review_comment-7`)."""
    return PRComment(
        id=f"{kind}-{data['id']}" if kind != "comment" else str(data["id"]),
        author=(data.get("user") or {}).get("login") or "",
        body=data.get("body") or "",
        url=data.get("html_url"),
        created_at=parse_time(data.get("created_at")),
        kind=kind,
    )


def pulls_review(data: dict[str, Any], state: str | None) -> PRComment:
    """A submitted review as GitHub and Gitea list them, with its verdict in our words (`state`)."""
    return PRComment(
        id=f"review-{data['id']}",
        author=(data.get("user") or {}).get("login") or "",
        body=data.get("body") or "",
        url=data.get("html_url"),
        created_at=parse_time(data.get("submitted_at")),
        kind="review",
        state=state,
    )


def oldest_first(comments: list[PRComment]) -> list[PRComment]:
    """Comments by time, undated ones (GitLab approvals) last."""
    return sorted(comments, key=lambda c: (c.created_at is None, c.created_at))


def changed_file(item: dict[str, Any]) -> ChangedFile:
    """A changed file as Gitea and GitHub list them (`filename`, `status`, `additions`, `deletions`)."""
    return ChangedFile(
        filename=item["filename"],
        status=item.get("status") or "modified",
        additions=int(item.get("additions") or 0),
        deletions=int(item.get("deletions") or 0),
    )


class Forge(Protocol):
    kind: ForgeKind

    def repo_info(self) -> RepoInfo: ...

    def create_pull_request(self, *, head: str, base: str, title: str, body: str) -> PullRequest:
        """Open a PR from branch `head` into `base`; an open PR for the same branches is returned, not
        duplicated."""
        ...

    def get_pull_request(self, number: int) -> PullRequest: ...

    def pull_request_files(self, number: int) -> list[ChangedFile]: ...

    def pull_request_diff(self, number: int) -> str:
        """The PR's unified diff (git format)."""
        ...

    def merge_pull_request(
        self, number: int, *, style: MergeStyle, expected_head_sha: str | None, message: str | None = None
    ) -> PullRequest:
        """Merge at `expected_head_sha` (ForgeConflict when the PR moved since); returns the merged PR with
        its merge commit. A PR already merged is returned as it is, not merged twice."""
        ...

    def close_pull_request(self, number: int) -> PullRequest: ...

    def comment(self, number: int, body: str) -> PRComment: ...

    def list_comments(self, number: int) -> list[PRComment]:
        """Comments and reviews of the PR, oldest first."""
        ...

    def request_reviewers(self, number: int, reviewers: list[str]) -> None:
        """Ask these users (forge logins) to review the PR."""
        ...

    def commit_checks(self, sha: str) -> CommitChecks:
        """Commit statuses and check runs for `sha`, combined."""
        ...

    def contains_commit(self, commit: str, *, in_commit: str) -> bool:
        """Whether `commit` is an ancestor of (or equal to) `in_commit`."""
        ...

    def close(self) -> None: ...
