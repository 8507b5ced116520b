"""Each forge's webhook bodies read into one `ForgeEvent` (shared/forge-contracts says what each sends).

A merged PR is `action: "closed"` + `pull_request.merged: true` on Gitea and GitHub and `action: "merge"` on
GitLab; the seed's own `action: "merged"` body is read as a merge too. Every field is the sender's: only what
the signature check vouches for is trusted, and text (comments) is stored as data, never interpreted.

A NUL character (PostgreSQL text cannot hold one) is replaced in what is only shown (comments, names, links),
as ingest does with free text; in a branch name, which no git branch can hold, it is a 422 naming the field.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from logcenter import nul
from logcenter.errors import BadRequest, ValidationFailed
from logcenter.forges.base import ForgeKind

MAX_COMMENT = 20_000


class Action(StrEnum):
    MERGED = "merged"
    CLOSED = "closed"  # without merging
    REOPENED = "reopened"
    PUSHED = "pushed"  # new commits on the PR's branch: its head moved
    COMMENT = "comment"
    REVIEW = "review"
    IGNORED = "ignored"


@dataclass(frozen=True)
class ForgeEvent:
    forge: ForgeKind
    event: str  # the forge's event header: pull_request, issue_comment, Merge Request Hook...
    action: Action
    repo: str | None = None  # owner/name or GitLab path
    number: int | None = None
    head_branch: str | None = None
    head_sha: str | None = None
    actor: str = "unknown"
    merge_commit: str | None = None
    merged_at: datetime | None = None
    link: str | None = None  # the PR's, comment's or review's page
    text: str | None = None  # comment or review body
    review_state: str | None = None  # approved / changes requested / commented
    # GitHub's author_association of a comment's or review's author (OWNER, MEMBER, COLLABORATOR, NONE...):
    # the one forge whose payload says whether the author may write to the repository.
    author_association: str | None = None
    ignored_because: str | None = None


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _shown(text: str) -> str:
    return text.replace("\x00", "\ufffd") if "\x00" in text else text


def _str(value: Any, limit: int = 500) -> str | None:
    return _shown(value[:limit]) if isinstance(value, str) and value else None


def _branch(value: Any, field: str) -> str | None:
    """A branch name: looked up as is, so a NUL in it is refused (no git ref can hold one)."""
    if isinstance(value, str) and "\x00" in value:
        raise ValidationFailed([{"field": field, "message": nul.MESSAGE}])
    return _str(value, 200)


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def _association(item: dict[str, Any]) -> str | None:
    value = _str(item.get("author_association"), 40)
    return value.upper() if value else None


def _login(user: Any) -> str | None:
    user = _dict(user)
    return _str(user.get("login"), 200) or _str(user.get("username"), 200) or _str(user.get("name"), 200)


def parse_time(value: Any) -> datetime | None:
    """RFC 3339 (Gitea, GitHub) or GitLab's "2013-12-03 17:23:34 UTC"; None when absent or unreadable."""
    if not isinstance(value, str) or not value:
        return None
    text = value.strip().replace(" UTC", "+00:00").replace("Z", "+00:00")
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _sha(value: Any) -> str | None:
    text = _str(value, 64)
    return text.lower() if text and all(c in "0123456789abcdefABCDEF" for c in text) else None


def _ignored(forge: ForgeKind, event: str, why: str, **fields: Any) -> ForgeEvent:
    return ForgeEvent(forge=forge, event=event, action=Action.IGNORED, ignored_because=why, **fields)


def _comment_text(value: Any) -> str:
    text = _shown(value) if isinstance(value, str) else ""
    return text if len(text) <= MAX_COMMENT else text[:MAX_COMMENT] + " […]"


def _pull_request_event(forge: ForgeKind, event: str, payload: dict[str, Any]) -> ForgeEvent:
    """Gitea and GitHub `pull_request` events (same shape for what is read here)."""
    pr = _dict(payload.get("pull_request"))
    head = _dict(pr.get("head"))
    head_ref = _branch(head.get("ref"), "pull_request.head.ref")
    if head_ref and head_ref.startswith("refs/"):  # Gitea, branch deleted: refs/pull/<n>/head
        head_ref = _branch(head.get("label"), "pull_request.head.label")
    common: dict[str, Any] = {
        "repo": _str(_dict(payload.get("repository")).get("full_name"), 300),
        "number": _int(pr.get("number")) or _int(payload.get("number")),
        "head_branch": head_ref,
        "head_sha": _sha(head.get("sha")),
        "link": _str(pr.get("html_url")),
    }
    action = payload.get("action")
    sender = _login(payload.get("sender")) or "unknown"
    if action in ("closed", "merged"):
        if pr.get("merged") is True or action == "merged":
            return ForgeEvent(
                forge=forge,
                event=event,
                action=Action.MERGED,
                actor=_login(pr.get("merged_by")) or sender,
                merge_commit=_sha(pr.get("merge_commit_sha")),
                merged_at=parse_time(pr.get("merged_at")),
                **common,
            )
        return ForgeEvent(forge=forge, event=event, action=Action.CLOSED, actor=sender, **common)
    if action == "reopened":
        return ForgeEvent(forge=forge, event=event, action=Action.REOPENED, actor=sender, **common)
    if action in ("synchronized", "synchronize"):  # Gitea, GitHub
        return ForgeEvent(forge=forge, event=event, action=Action.PUSHED, actor=sender, **common)
    if forge is ForgeKind.GITEA and action == "reviewed":  # X-Gitea-Event: pull_request_approved / ...
        return _gitea_review(event, payload, sender, common)
    return _ignored(forge, event, f"pull request action {str(action)[:40]!r} changes nothing", **common)


# X-Gitea-Event carries HookEventType.Event() ("pull_request_approved"); X-Gitea-Event-Type and some proxies
# carry the raw type ("pull_request_review_approved"): both are read.
_GITEA_REVIEWS = {
    "pull_request_approved": "approved",
    "pull_request_rejected": "changes requested",
    "pull_request_comment": "commented",
    "pull_request_review_approved": "approved",
    "pull_request_review_rejected": "changes requested",
    "pull_request_review_comment": "commented",
}


def _gitea_review(event: str, payload: dict[str, Any], sender: str, common: dict[str, Any]) -> ForgeEvent:
    review = _dict(payload.get("review"))
    return ForgeEvent(
        forge=ForgeKind.GITEA,
        event=event,
        action=Action.REVIEW,
        actor=sender,
        text=_comment_text(review.get("content")),
        review_state=_GITEA_REVIEWS.get(event, "commented"),
        **common,
    )


def _issue_comment(forge: ForgeKind, event: str, payload: dict[str, Any]) -> ForgeEvent:
    """A comment on an issue or PR (Gitea and GitHub `issue_comment`)."""
    issue = _dict(payload.get("issue"))
    repo = _str(_dict(payload.get("repository")).get("full_name"), 300)
    if not issue.get("pull_request") and payload.get("is_pull") is not True:
        return _ignored(forge, event, "a comment on an issue, not on a pull request", repo=repo)
    if payload.get("action") != "created":
        return _ignored(forge, event, "only new comments are recorded", repo=repo)
    comment = _dict(payload.get("comment"))
    return ForgeEvent(
        forge=forge,
        event=event,
        action=Action.COMMENT,
        repo=repo,
        number=_int(issue.get("number")),
        actor=_login(comment.get("user")) or _login(payload.get("sender")) or "unknown",
        link=_str(comment.get("html_url")),
        text=_comment_text(comment.get("body")),
        author_association=_association(comment),
    )


def parse_gitea(event: str, payload: dict[str, Any]) -> ForgeEvent:
    forge = ForgeKind.GITEA
    if event == "pull_request" or event in _GITEA_REVIEWS:
        return _pull_request_event(forge, event, payload)
    if event == "issue_comment":
        return _issue_comment(forge, event, payload)
    return _ignored(forge, event, f"event {event[:40]!r} is not one Log Center follows")


_GITHUB_REVIEW_STATES = {"approved": "approved", "changes_requested": "changes requested"}


def parse_github(event: str, payload: dict[str, Any]) -> ForgeEvent:
    forge = ForgeKind.GITHUB
    repo = _str(_dict(payload.get("repository")).get("full_name"), 300)
    if event == "pull_request":
        return _pull_request_event(forge, event, payload)
    if event == "issue_comment":
        return _issue_comment(forge, event, payload)
    pr = _dict(payload.get("pull_request"))
    if event == "pull_request_review":
        review = _dict(payload.get("review"))
        if payload.get("action") != "submitted":
            return _ignored(forge, event, "only submitted reviews are recorded", repo=repo)
        state = str(review.get("state") or "commented").lower()
        return ForgeEvent(
            forge=forge,
            event=event,
            action=Action.REVIEW,
            repo=repo,
            number=_int(pr.get("number")),
            head_branch=_branch(_dict(pr.get("head")).get("ref"), "pull_request.head.ref"),
            actor=_login(review.get("user")) or _login(payload.get("sender")) or "unknown",
            link=_str(review.get("html_url")),
            text=_comment_text(review.get("body")),
            review_state=_GITHUB_REVIEW_STATES.get(state, "commented"),
            author_association=_association(review),
        )
    if event == "pull_request_review_comment":
        if payload.get("action") != "created":
            return _ignored(forge, event, "only new comments are recorded", repo=repo)
        comment = _dict(payload.get("comment"))
        return ForgeEvent(
            forge=forge,
            event=event,
            action=Action.COMMENT,
            repo=repo,
            number=_int(pr.get("number")),
            head_branch=_branch(_dict(pr.get("head")).get("ref"), "pull_request.head.ref"),
            actor=_login(comment.get("user")) or "unknown",
            link=_str(comment.get("html_url")),
            text=_comment_text(comment.get("body")),
            author_association=_association(comment),
        )
    if event == "ping":
        return _ignored(forge, event, "pong", repo=repo)
    return _ignored(forge, event, f"event {event[:40]!r} is not one Log Center follows", repo=repo)


_GITLAB_ACTIONS = {"merge": Action.MERGED, "close": Action.CLOSED, "reopen": Action.REOPENED}


def parse_gitlab(event: str, payload: dict[str, Any]) -> ForgeEvent:
    forge = ForgeKind.GITLAB
    project = _dict(payload.get("project"))
    attrs = _dict(payload.get("object_attributes"))
    repo = _str(project.get("path_with_namespace"), 300)
    actor = _login(payload.get("user")) or "unknown"
    kind = payload.get("object_kind")
    if kind == "merge_request":
        action = attrs.get("action")
        common: dict[str, Any] = {
            "repo": repo,
            "number": _int(attrs.get("iid")),
            "head_branch": _branch(attrs.get("source_branch"), "object_attributes.source_branch"),
            "head_sha": _sha(_dict(attrs.get("last_commit")).get("id")),
            "link": _str(attrs.get("url")),
            "actor": actor,
        }
        if action in _GITLAB_ACTIONS:
            merged = _GITLAB_ACTIONS[action] is Action.MERGED
            return ForgeEvent(
                forge=forge,
                event=event,
                action=_GITLAB_ACTIONS[action],
                merge_commit=_sha(attrs.get("merge_commit_sha")) if merged else None,
                merged_at=parse_time(attrs.get("merged_at") or attrs.get("updated_at")) if merged else None,
                **common,
            )
        if action == "update" and attrs.get("oldrev"):  # new commits pushed to the source branch
            return ForgeEvent(forge=forge, event=event, action=Action.PUSHED, **common)
        if action in ("approved", "unapproved"):
            state = "approved" if action == "approved" else "approval withdrawn"
            return ForgeEvent(forge=forge, event=event, action=Action.REVIEW, review_state=state, **common)
        return _ignored(forge, event, f"merge request action {str(action)[:40]!r} changes nothing", **common)
    if kind == "note":
        if attrs.get("noteable_type") != "MergeRequest":
            return _ignored(forge, event, "a note on something other than a merge request", repo=repo)
        mr = _dict(payload.get("merge_request"))
        return ForgeEvent(
            forge=forge,
            event=event,
            action=Action.COMMENT,
            repo=repo,
            number=_int(mr.get("iid")),
            head_branch=_branch(mr.get("source_branch"), "merge_request.source_branch"),
            actor=actor,
            link=_str(attrs.get("url")),
            text=_comment_text(attrs.get("note")),
        )
    return _ignored(forge, event, f"event {event[:40]!r} is not one Log Center follows", repo=repo)


PARSERS = {ForgeKind.GITEA: parse_gitea, ForgeKind.GITHUB: parse_github, ForgeKind.GITLAB: parse_gitlab}


def repository_of(forge: ForgeKind, payload: dict[str, Any]) -> str | None:
    """The repository a body names, read before its signature is checked (to find whose secret signs it)."""
    if forge is ForgeKind.GITLAB:
        return _str(_dict(payload.get("project")).get("path_with_namespace"), 300)
    return _str(_dict(payload.get("repository")).get("full_name"), 300)


def require_object(payload: Any) -> dict[str, Any]:
    if not isinstance(payload, dict):
        raise BadRequest("The webhook body must be a JSON object")
    return payload
