"""Gitea (and Forgejo) REST API v1 client; paths and bodies follow Gitea's swagger
(shared/forge-contracts/gitea).

Gitea specifics that matter here: a merged PR answers the merge call with an empty 200; "already merged" is
a 405; a moved head (`head_commit_id`) is a 409; closing is a PATCH that answers 201; an issue's comments
come in one answer, not in pages; and "is A in B" is a compare of B...A that lists no commits.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from logcenter.forges.base import (
    CheckState,
    ForgeError,
    ForgeKind,
    PullRequest,
    pulls_pull_request,
)
from logcenter.forges.pulls import PullsClient

PAGE = 50  # Gitea's default MAX_RESPONSE_ITEMS


def pull_request_from(data: dict[str, Any]) -> PullRequest:
    """A PullRequest from Gitea's `PullRequest` object (API answer or webhook `pull_request`)."""
    # `ref` becomes refs/pull/<n>/head once the branch is deleted; `label` keeps the branch name
    return pulls_pull_request(
        data, merged=bool(data.get("merged")), head_branch=_branch(data.get("head") or {})
    )


def _branch(info: dict[str, Any]) -> str:
    ref = info.get("ref") or ""
    if ref.startswith("refs/pull/") or not ref:
        return (info.get("label") or "").rsplit(":", 1)[-1]
    return ref


class GiteaForge(PullsClient):
    kind = ForgeKind.GITEA
    AUTH_SCHEME = "token"
    PAGE = PAGE
    CLOSE_REFUSED = (412,)  # already merged: cannot be closed
    REVIEWERS_ADDED = (201, 204)
    DIFF = (".diff", "text/plain")
    MERGE = ("POST", "do", "head_commit_id", "merge_message_field")
    UNSUBMITTED = ("PENDING", "REQUEST_REVIEW")
    STATUS_FIELD = "status"
    STATUS_STATES = {
        **PullsClient.STATUS_STATES,
        "skipped": CheckState.SUCCESS,
        "warning": CheckState.SUCCESS,
    }

    def pull_request(self, data: dict[str, Any]) -> PullRequest:
        return pull_request_from(data)

    def _page_params(self, page: int) -> dict[str, Any]:
        return {"page": page, "limit": PAGE}

    def _open_pull_request(self, call: str, *, head: str, base: str) -> PullRequest:
        path = f"{self.repo_path}/pulls/{quote(base, safe='')}/{quote(head, safe='')}"
        return self._pull(call, self.http.request(call, "GET", path))

    def _issue_comments(self, number: int) -> list[dict[str, Any]]:
        # one answer: the endpoint takes no page/limit and would hand the same comments out for every page
        call = f"list comments of PR #{number}"
        return self.http.request(call, "GET", self._comments_path(number)).json() or []

    def contains_commit(self, commit: str, *, in_commit: str) -> bool:
        data = self._compare(commit, in_commit=in_commit)
        total = data.get("total_commits")
        if total is None:
            total = len(data.get("commits") or [])
        return int(total) == 0


__all__ = ["GiteaForge", "ForgeError", "pull_request_from"]
