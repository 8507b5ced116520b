"""GitHub REST API client (api.github.com or GitHub Enterprise's /api/v3), REST version 2022-11-28.

GitHub specifics: merging is a PUT that refuses a moved head with 409 ("Head branch was modified") when `sha`
is given; `merge_commit_sha` is set even on unmerged PRs (a test merge), so only `merged` says a PR was
merged; closing a merged PR is refused with 422 "Validation Failed", as reopening it is; "is A in B" is a
compare of B...A whose status is `behind` or `identical`; a commit's checks are both the legacy combined
status and the check runs of GitHub Actions and apps.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from logcenter.forges.base import (
    Check,
    CheckState,
    ForgeKind,
    PRComment,
    PullRequest,
    pulls_comment,
    pulls_pull_request,
)
from logcenter.forges.pulls import PullsClient

PAGE = 100

_CONCLUSIONS = {
    "success": CheckState.SUCCESS,
    "neutral": CheckState.SUCCESS,
    "skipped": CheckState.SUCCESS,
    "failure": CheckState.FAILURE,
    "cancelled": CheckState.FAILURE,
    "timed_out": CheckState.FAILURE,
    "action_required": CheckState.FAILURE,
    "startup_failure": CheckState.FAILURE,
    "stale": CheckState.PENDING,
}


def pull_request_from(data: dict[str, Any]) -> PullRequest:
    """A PullRequest from GitHub's `pull-request` object (API answer or webhook `pull_request`)."""
    merged = bool(data.get("merged")) or bool(data.get("merged_at"))
    return pulls_pull_request(data, merged=merged, head_branch=(data.get("head") or {}).get("ref") or "")


class GitHubForge(PullsClient):
    kind = ForgeKind.GITHUB
    HEADERS = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"}
    PAGE = PAGE
    PR_EXISTS = 422  # "A pull request already exists"
    CLOSE_REFUSED = (422,)  # "Validation Failed": a merged PR's state cannot change
    REVIEW_STATES = {"CHANGES_REQUESTED": "REQUEST_CHANGES", "COMMENTED": "COMMENT"}

    def pull_request(self, data: dict[str, Any]) -> PullRequest:
        return pull_request_from(data)

    def _open_pull_request(self, call: str, *, head: str, base: str) -> PullRequest | None:
        params = {"state": "open", "head": f"{self.owner}:{head}", "base": base}
        existing = self._paged(call, f"{self.repo_path}/pulls", params)
        return self.pull_request(existing[0]) if existing else None

    def _review_comments(self, number: int) -> list[PRComment]:
        call, path = f"list review comments of PR #{number}", f"{self._pr_path(number)}/comments"
        return [pulls_comment(c, "review_comment") for c in self._paged(call, path)]

    def _checks(self, sha: str) -> list[Check]:
        """The combined status's statuses and the check runs of GitHub Actions and apps."""
        checks = super()._checks(sha)
        runs = self._paged(
            f"list check runs of {sha[:12]}",
            f"{self.repo_path}/commits/{quote(sha, safe='')}/check-runs",
            key="check_runs",
        )
        for run in runs:
            if run.get("status") != "completed":
                state = CheckState.PENDING
            else:
                state = _CONCLUSIONS.get(run.get("conclusion") or "", CheckState.FAILURE)
            checks.append(Check(name=run.get("name") or "", state=state, url=run.get("html_url") or None))
        return checks

    def contains_commit(self, commit: str, *, in_commit: str) -> bool:
        return self._compare(commit, in_commit=in_commit, params={"per_page": 1}).get("status") in (
            "behind",
            "identical",
        )
