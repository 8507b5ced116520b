"""The GitHub REST shape of a forge client, which Gitea copies: `PullsClient`, the base of GiteaForge and
GitHubForge (GitLab's client is ForgeClient's other child)."""

from __future__ import annotations

from typing import Any, ClassVar
from urllib.parse import quote

import httpx

from logcenter.forges.base import (
    ChangedFile,
    Check,
    CheckState,
    ForgeConfig,
    MergeStyle,
    PRComment,
    changed_file,
    oldest_first,
    pulls_comment,
    pulls_review,
)
from logcenter.forges.client import ForgeClient


class PullsClient(ForgeClient):
    """The GitHub REST shape, which Gitea copies: /repos/{owner}/{name}, pulls, issue comments, reviews,
    requested reviewers, changed files and compare."""

    REVIEWERS_ADDED: ClassVar[tuple[int, ...]] = (201,)
    UNSUBMITTED: ClassVar[tuple[str, ...]] = ("PENDING",)  # review states that are no verdict yet
    REVIEW_STATES: ClassVar[dict[str, str]] = {}  # the forge's review verdicts in Gitea's words
    STATUS_FIELD: ClassVar[str] = "state"  # a commit status's state field
    STATUS_STATES: ClassVar[dict[str, CheckState]] = {
        "success": CheckState.SUCCESS,
        "pending": CheckState.PENDING,
        "failure": CheckState.FAILURE,
        "error": CheckState.FAILURE,
    }
    DIFF: ClassVar[tuple[str, str]] = ("", "application/vnd.github.diff")  # after the PR's path; Accept
    # the merge call's method and its fields for the style, the expected head and the commit message
    MERGE: ClassVar[tuple[str, str, str, str]] = ("PUT", "merge_method", "sha", "commit_message")

    def __init__(self, config: ForgeConfig, **http_options: Any) -> None:
        super().__init__(config, **http_options)
        self.owner, _, name = config.repo.partition("/")
        self.repo_path = f"/repos/{quote(self.owner, safe='')}/{quote(name, safe='')}"

    def _new_pull_request(self, *, head: str, base: str, title: str, body: str) -> dict[str, Any]:
        return {"head": head, "base": base, "title": title, "body": body}

    def _comments_path(self, number: int) -> str:
        return f"{self.repo_path}/issues/{number}/comments"

    def _comment(self, data: dict[str, Any], number: int) -> PRComment:
        return pulls_comment(data)

    def _last_page(self, response: httpx.Response, count: int, seen: int) -> bool:
        """The `Link` header says whether a next page exists (a server may hand out fewer items than asked
        for); without one, Gitea's `X-Total-Count` says how many there are (its combined status sends only
        that); a listing with neither ends at a short page."""
        link = response.headers.get("link")
        if link is not None:
            return 'rel="next"' not in link
        total = response.headers.get("x-total-count", "")
        if total.isdigit():
            return seen >= int(total)
        return count < self.PAGE

    def pull_request_files(self, number: int) -> list[ChangedFile]:
        files = self._paged(f"list files of {self._name(number)}", f"{self._pr_path(number)}/files")
        return [changed_file(f) for f in files]

    def pull_request_diff(self, number: int) -> str:
        suffix, accept = self.DIFF
        response = self.http.request(
            f"get diff of {self._name(number)}",
            "GET",
            f"{self._pr_path(number)}{suffix}",
            headers={"Accept": accept},
        )
        return response.text

    def _merge(
        self, number: int, call: str, *, style: MergeStyle, expected_head_sha: str | None, message: str | None
    ) -> httpx.Response:
        method, style_field, head_field, message_field = self.MERGE
        body: dict[str, Any] = {style_field: style.value}
        if expected_head_sha:
            body[head_field] = expected_head_sha
        if message:
            body[message_field] = message
        return self.http.request(
            call, method, f"{self._pr_path(number)}/merge", json=body, expect=(200, 405, 409)
        )

    def list_comments(self, number: int) -> list[PRComment]:
        comments = [pulls_comment(c) for c in self._issue_comments(number)]
        comments += self._review_comments(number)
        for r in self._paged(f"list reviews of {self._name(number)}", f"{self._pr_path(number)}/reviews"):
            state = r.get("state")
            if state not in self.UNSUBMITTED:
                comments.append(pulls_review(r, self.REVIEW_STATES.get(state or "", state)))
        return oldest_first(comments)

    def _issue_comments(self, number: int) -> list[dict[str, Any]]:
        return self._paged(f"list comments of {self._name(number)}", self._comments_path(number))

    def _review_comments(self, number: int) -> list[PRComment]:
        """Comments on lines of the diff, where the forge lists them apart from the reviews."""
        return []

    def _checks(self, sha: str) -> list[Check]:
        """The commit's statuses (the combined status's `statuses`, the newest of each context), every
        page of them: a red context on page 2 must not leave the commit green."""
        statuses = self._paged(
            f"get status of {sha[:12]}",
            f"{self.repo_path}/commits/{quote(sha, safe='')}/status",
            key="statuses",
        )
        return [
            Check(
                name=s.get("context") or "",
                state=self.STATUS_STATES.get(s.get(self.STATUS_FIELD) or "", CheckState.PENDING),
                url=s.get("target_url") or None,
            )
            for s in statuses
        ]

    def request_reviewers(self, number: int, reviewers: list[str]) -> None:
        self.http.request(
            f"request reviewers for {self._name(number)}",
            "POST",
            f"{self._pr_path(number)}/requested_reviewers",
            json={"reviewers": reviewers},
            expect=self.REVIEWERS_ADDED,
        )

    def _compare(self, commit: str, *, in_commit: str, params: dict[str, Any] | None = None) -> Any:
        """The comparison of `in_commit`...`commit` (what `commit` has that `in_commit` lacks)."""
        call = f"compare {in_commit[:12]}...{commit[:12]}"
        basehead = quote(f"{in_commit}...{commit}", safe=".")
        return self.http.request(call, "GET", f"{self.repo_path}/compare/{basehead}", params=params).json()
