"""Gitea (and Forgejo) REST API v1 client; paths and bodies follow Gitea's swagger
(shared/forge-contracts/gitea).

Gitea specifics that matter here: a merged PR answers the merge call with an empty 200; "already merged" is
a 405; a moved head (`head_commit_id`) is a 409; closing is a PATCH that answers 201; and "is A in B" is a
compare of B...A that lists no commits.
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
    ForgeError,
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

PAGE = 50  # Gitea's default MAX_RESPONSE_ITEMS

_CHECK_STATES = {
    "success": CheckState.SUCCESS,
    "skipped": CheckState.SUCCESS,
    "warning": CheckState.SUCCESS,
    "pending": CheckState.PENDING,
    "failure": CheckState.FAILURE,
    "error": CheckState.FAILURE,
}


def pull_request_from(data: dict[str, Any]) -> PullRequest:
    """A PullRequest from Gitea's `PullRequest` object (API answer or webhook `pull_request`)."""
    merged = bool(data.get("merged"))
    state = PRState.MERGED if merged else PRState(data.get("state") or "open")
    head, base = data.get("head") or {}, data.get("base") or {}
    return PullRequest(
        number=int(data["number"]),
        url=data.get("html_url") or "",
        title=data.get("title") or "",
        state=state,
        # `ref` becomes refs/pull/<n>/head once the branch is deleted; `label` keeps the branch name
        head_branch=_branch(head),
        head_sha=head.get("sha") or "",
        base_branch=base.get("ref") or "",
        merged=merged,
        merge_commit_sha=(data.get("merge_commit_sha") or None) if merged else None,
        merged_by=((data.get("merged_by") or {}).get("login")) if merged else None,
        merged_at=parse_time(data.get("merged_at")) if merged else None,
        author=(data.get("user") or {}).get("login"),
    )


def _branch(info: dict[str, Any]) -> str:
    ref = info.get("ref") or ""
    if ref.startswith("refs/pull/") or not ref:
        return (info.get("label") or "").rsplit(":", 1)[-1]
    return ref


class GiteaForge:
    kind = ForgeKind.GITEA

    def __init__(self, config: ForgeConfig, **http_options: Any) -> None:
        self.config = config
        owner, _, name = config.repo.partition("/")
        self.repo_path = f"/repos/{quote(owner, safe='')}/{quote(name, safe='')}"
        self.http = ForgeHTTP(
            "gitea",
            config.api_url,
            token=config.token,
            auth_headers={"Authorization": f"token {config.token}"},
            headers={"Accept": "application/json"},
            timeout=config.timeout,
            max_retries=config.max_retries,
            **http_options,
        )

    def close(self) -> None:
        self.http.close()

    def _paged(self, call: str, path: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        page = 1
        while True:
            batch = self.http.request(call, "GET", path, params={"page": page, "limit": PAGE}).json() or []
            items.extend(batch)
            if len(batch) < PAGE:
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
            expect=(201, 409),
        )
        if response.status_code == 409:  # an open PR for these branches exists: return it
            existing = self.http.request(
                call, "GET", f"{self.repo_path}/pulls/{quote(base, safe='')}/{quote(head, safe='')}"
            )
            return pull_request_from(existing.json())
        return pull_request_from(response.json())

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
            f"{self.repo_path}/pulls/{number}.diff",
            headers={"Accept": "text/plain"},
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
            "gitea", call, current, expected_head_sha, closed="the PR is closed", moved="the PR"
        )
        body: dict[str, Any] = {"do": style.value}
        if expected_head_sha:
            body["head_commit_id"] = expected_head_sha
        if message:
            body["merge_message_field"] = message
        response = self.http.request(
            call, "POST", f"{self.repo_path}/pulls/{number}/merge", json=body, expect=(200, 405, 409)
        )
        if response.status_code == 200:
            return self.get_pull_request(number)
        after = self.get_pull_request(number)  # 405 "already merged" (a race) is success, anything else not
        if after.merged:
            return after
        raise self.http.error(call, response, ForgeConflict)

    def close_pull_request(self, number: int) -> PullRequest:
        call = f"close PR #{number}"
        response = self.http.request(
            call,
            "PATCH",
            f"{self.repo_path}/pulls/{number}",
            json={"state": "closed"},
            expect=(200, 201, 412),
        )
        if response.status_code == 412:  # already merged: cannot be closed
            raise self.http.error(call, response, ForgeConflict)
        return pull_request_from(response.json())

    def comment(self, number: int, body: str) -> PRComment:
        data = self.http.request(
            f"comment on PR #{number}",
            "POST",
            f"{self.repo_path}/issues/{number}/comments",
            json={"body": body},
            expect=(201,),
            repeatable=False,
        ).json()
        return _comment(data)

    def list_comments(self, number: int) -> list[PRComment]:
        comments = [
            _comment(c)
            for c in self._paged(
                f"list comments of PR #{number}", f"{self.repo_path}/issues/{number}/comments"
            )
        ]
        for r in self._paged(f"list reviews of PR #{number}", f"{self.repo_path}/pulls/{number}/reviews"):
            if r.get("state") in ("PENDING", "REQUEST_REVIEW"):
                continue
            comments.append(
                PRComment(
                    id=f"review-{r['id']}",
                    author=(r.get("user") or {}).get("login") or "",
                    body=r.get("body") or "",
                    url=r.get("html_url"),
                    created_at=parse_time(r.get("submitted_at")),
                    kind="review",
                    state=r.get("state"),
                )
            )
        return sorted(comments, key=lambda c: (c.created_at is None, c.created_at))

    def request_reviewers(self, number: int, reviewers: list[str]) -> None:
        self.http.request(
            f"request reviewers for PR #{number}",
            "POST",
            f"{self.repo_path}/pulls/{number}/requested_reviewers",
            json={"reviewers": reviewers},
            expect=(201, 204),
        )

    def commit_checks(self, sha: str) -> CommitChecks:
        data = self.http.request(
            f"get status of {sha[:12]}", "GET", f"{self.repo_path}/commits/{quote(sha, safe='')}/status"
        ).json()
        checks = [
            Check(
                name=s.get("context") or "",
                state=_CHECK_STATES.get(s.get("status") or "", CheckState.PENDING),
                url=s.get("target_url") or None,
            )
            for s in data.get("statuses") or []
        ]
        return combine_checks(sha, checks)

    def contains_commit(self, commit: str, *, in_commit: str) -> bool:
        call = f"compare {in_commit[:12]}...{commit[:12]}"
        basehead = quote(f"{in_commit}...{commit}", safe=".")
        data = self.http.request(call, "GET", f"{self.repo_path}/compare/{basehead}").json()
        total = data.get("total_commits")
        if total is None:
            total = len(data.get("commits") or [])
        return int(total) == 0


def _comment(data: dict[str, Any]) -> PRComment:
    return PRComment(
        id=str(data["id"]),
        author=(data.get("user") or {}).get("login") or "",
        body=data.get("body") or "",
        url=data.get("html_url"),
        created_at=parse_time(data.get("created_at")),
    )


__all__ = ["GiteaForge", "ForgeError", "pull_request_from"]
