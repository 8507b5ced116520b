"""GitHub REST API client (api.github.com or GitHub Enterprise's /api/v3), REST version 2022-11-28.

GitHub specifics: merging is a PUT that refuses a moved head with 409 ("Head branch was modified") when `sha`
is given; `merge_commit_sha` is set even on unmerged PRs (a test merge), so only `merged` says a PR was
merged; "is A in B" is a compare of B...A whose status is `behind` or `identical`; a commit's checks are both
the legacy combined status and the check runs of GitHub Actions and apps.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from logcenter.forges.base import (
    ChangedFile,
    Check,
    CheckState,
    CommitChecks,
    ForgeConfig,
    ForgeConflict,
    ForgeKind,
    MergeStyle,
    PRComment,
    PRState,
    PullRequest,
    RepoInfo,
    changed_file,
    combine_checks,
    refuse_unmergeable,
)
from logcenter.forges.http import ForgeHTTP, parse_time

PAGE = 100

_STATUS_STATES = {
    "success": CheckState.SUCCESS,
    "pending": CheckState.PENDING,
    "failure": CheckState.FAILURE,
    "error": CheckState.FAILURE,
}
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
    state = PRState.MERGED if merged else PRState(data.get("state") or "open")
    head, base = data.get("head") or {}, data.get("base") or {}
    return PullRequest(
        number=int(data["number"]),
        url=data.get("html_url") or "",
        title=data.get("title") or "",
        state=state,
        head_branch=head.get("ref") or "",
        head_sha=head.get("sha") or "",
        base_branch=base.get("ref") or "",
        merged=merged,
        merge_commit_sha=(data.get("merge_commit_sha") or None) if merged else None,
        merged_by=((data.get("merged_by") or {}).get("login")) if merged else None,
        merged_at=parse_time(data.get("merged_at")) if merged else None,
        author=(data.get("user") or {}).get("login"),
    )


class GitHubForge:
    kind = ForgeKind.GITHUB

    def __init__(self, config: ForgeConfig, **http_options: Any) -> None:
        self.config = config
        self.owner, _, name = config.repo.partition("/")
        self.repo_path = f"/repos/{quote(self.owner, safe='')}/{quote(name, safe='')}"
        self.http = ForgeHTTP(
            "github",
            config.api_url,
            token=config.token,
            auth_headers={"Authorization": f"Bearer {config.token}"},
            headers={"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"},
            timeout=config.timeout,
            max_retries=config.max_retries,
            **http_options,
        )

    def close(self) -> None:
        self.http.close()

    def _paged(self, call: str, path: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        page = 1
        while True:
            response = self.http.request(
                call, "GET", path, params={**(params or {}), "per_page": PAGE, "page": page}
            )
            batch = response.json() or []
            items.extend(batch)
            if len(batch) < PAGE or 'rel="next"' not in response.headers.get("link", 'rel="next"'):
                return items
            page += 1

    def repo_info(self) -> RepoInfo:
        data = self.http.request("get repository", "GET", self.repo_path).json()
        return RepoInfo(
            full_name=data["full_name"],
            default_branch=data.get("default_branch") or "main",
            clone_url=data.get("clone_url") or "",
            html_url=data.get("html_url") or "",
        )

    def create_pull_request(self, *, head: str, base: str, title: str, body: str) -> PullRequest:
        call = f"create PR {head} → {base}"
        response = self.http.request(
            call,
            "POST",
            f"{self.repo_path}/pulls",
            json={"head": head, "base": base, "title": title, "body": body},
            expect=(201, 422),
        )
        if response.status_code == 201:
            return pull_request_from(response.json())
        existing = self._paged(
            call, f"{self.repo_path}/pulls", {"state": "open", "head": f"{self.owner}:{head}", "base": base}
        )
        if existing:  # 422 "A pull request already exists": return that one
            return pull_request_from(existing[0])
        raise self.http.error(call, response)

    def get_pull_request(self, number: int) -> PullRequest:
        data = self.http.request(f"get PR #{number}", "GET", f"{self.repo_path}/pulls/{number}").json()
        return pull_request_from(data)

    def pull_request_files(self, number: int) -> list[ChangedFile]:
        files = self._paged(f"list files of PR #{number}", f"{self.repo_path}/pulls/{number}/files")
        return [changed_file(f) for f in files]

    def pull_request_diff(self, number: int) -> str:
        response = self.http.request(
            f"get diff of PR #{number}",
            "GET",
            f"{self.repo_path}/pulls/{number}",
            headers={"Accept": "application/vnd.github.diff"},
        )
        return response.text

    def merge_pull_request(
        self, number: int, *, style: MergeStyle, expected_head_sha: str | None, message: str | None = None
    ) -> PullRequest:
        call = f"merge PR #{number}"
        current = self.get_pull_request(number)
        if current.merged:
            return current
        refuse_unmergeable(
            "github", call, current, expected_head_sha, closed="the PR is closed", moved="the PR"
        )
        body: dict[str, Any] = {"merge_method": style.value}
        if expected_head_sha:
            body["sha"] = expected_head_sha
        if message:
            body["commit_message"] = message
        response = self.http.request(
            call, "PUT", f"{self.repo_path}/pulls/{number}/merge", json=body, expect=(200, 405, 409)
        )
        after = self.get_pull_request(number)
        if after.merged:
            return after
        raise self.http.error(call, response, ForgeConflict)

    def close_pull_request(self, number: int) -> PullRequest:
        data = self.http.request(
            f"close PR #{number}", "PATCH", f"{self.repo_path}/pulls/{number}", json={"state": "closed"}
        ).json()
        return pull_request_from(data)

    def comment(self, number: int, body: str) -> PRComment:
        data = self.http.request(
            f"comment on PR #{number}",
            "POST",
            f"{self.repo_path}/issues/{number}/comments",
            json={"body": body},
            expect=(201,),
            repeatable=False,
        ).json()
        return _comment(data, "comment")

    def list_comments(self, number: int) -> list[PRComment]:
        comments = [
            _comment(c, "comment")
            for c in self._paged(
                f"list comments of PR #{number}", f"{self.repo_path}/issues/{number}/comments"
            )
        ]
        comments += [
            _comment(c, "review_comment")
            for c in self._paged(
                f"list review comments of PR #{number}", f"{self.repo_path}/pulls/{number}/comments"
            )
        ]
        for r in self._paged(f"list reviews of PR #{number}", f"{self.repo_path}/pulls/{number}/reviews"):
            if r.get("state") == "PENDING":
                continue
            state = r.get("state")
            comments.append(
                PRComment(
                    id=f"review-{r['id']}",
                    author=(r.get("user") or {}).get("login") or "",
                    body=r.get("body") or "",
                    url=r.get("html_url"),
                    created_at=parse_time(r.get("submitted_at")),
                    kind="review",
                    state="REQUEST_CHANGES"
                    if state == "CHANGES_REQUESTED"
                    else "COMMENT"
                    if state == "COMMENTED"
                    else state,
                )
            )
        return sorted(comments, key=lambda c: (c.created_at is None, c.created_at))

    def request_reviewers(self, number: int, reviewers: list[str]) -> None:
        self.http.request(
            f"request reviewers for PR #{number}",
            "POST",
            f"{self.repo_path}/pulls/{number}/requested_reviewers",
            json={"reviewers": reviewers},
            expect=(201,),
        )

    def commit_checks(self, sha: str) -> CommitChecks:
        ref = quote(sha, safe="")
        status = self.http.request(
            f"get status of {sha[:12]}", "GET", f"{self.repo_path}/commits/{ref}/status"
        )
        checks = [
            Check(
                name=s.get("context") or "",
                state=_STATUS_STATES.get(s.get("state") or "", CheckState.PENDING),
                url=s.get("target_url") or None,
            )
            for s in status.json().get("statuses") or []
        ]
        runs = self.http.request(
            f"list check runs of {sha[:12]}",
            "GET",
            f"{self.repo_path}/commits/{ref}/check-runs",
            params={"per_page": PAGE},
        ).json()
        for run in runs.get("check_runs") or []:
            if run.get("status") != "completed":
                state = CheckState.PENDING
            else:
                state = _CONCLUSIONS.get(run.get("conclusion") or "", CheckState.FAILURE)
            checks.append(Check(name=run.get("name") or "", state=state, url=run.get("html_url") or None))
        return combine_checks(sha, checks)

    def contains_commit(self, commit: str, *, in_commit: str) -> bool:
        call = f"compare {in_commit[:12]}...{commit[:12]}"
        basehead = quote(f"{in_commit}...{commit}", safe=".")
        data = self.http.request(
            call, "GET", f"{self.repo_path}/compare/{basehead}", params={"per_page": 1}
        ).json()
        return data.get("status") in ("behind", "identical")


def _comment(data: dict[str, Any], kind: str) -> PRComment:
    return PRComment(
        id=f"{kind}-{data['id']}" if kind != "comment" else str(data["id"]),
        author=(data.get("user") or {}).get("login") or "",
        body=data.get("body") or "",
        url=data.get("html_url"),
        created_at=parse_time(data.get("created_at")),
        kind=kind,
    )
