"""GitLab REST API v4 client (gitlab.com or self-managed). A "PR" is a merge request, numbered by its `iid`.

GitLab specifics: the project is addressed by its URL-encoded path (`group%2Fsub%2Fname`); states are
`opened` / `closed` / `merged` / `locked`; merging with `sha` refuses a moved head with 409; squash is a flag
of the merge call, while merge commit vs. fast-forward/rebase is the project's merge method (GitLab has no
per-call rebase merge), so `rebase` asks GitLab to rebase the source branch first and then merges; "is A in
B" asks for the merge base of A and B, which is A exactly when A is contained in B.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import quote

import httpx

from logcenter.forges.base import (
    ChangedFile,
    Check,
    CheckState,
    ForgeConfig,
    ForgeConflict,
    ForgeError,
    ForgeKind,
    MergeStyle,
    PRComment,
    PRState,
    PullRequest,
    oldest_first,
    parse_time,
)
from logcenter.forges.client import ForgeClient

PAGE = 100
_STATES = {"opened": PRState.OPEN, "closed": PRState.CLOSED, "locked": PRState.OPEN, "merged": PRState.MERGED}
_CHECK_STATES = {
    "success": CheckState.SUCCESS,
    "skipped": CheckState.SUCCESS,
    "manual": CheckState.SUCCESS,
    "failed": CheckState.FAILURE,
    "canceled": CheckState.FAILURE,
    "created": CheckState.PENDING,
    "waiting_for_resource": CheckState.PENDING,
    "preparing": CheckState.PENDING,
    "pending": CheckState.PENDING,
    "running": CheckState.PENDING,
    "scheduled": CheckState.PENDING,
}


def pull_request_from(data: dict[str, Any]) -> PullRequest:
    """A PullRequest from GitLab's merge request entity (API answer)."""
    return _merge_request(
        data,
        url=data.get("web_url") or "",
        head_sha=data.get("sha") or "",
        merge_commit_sha=data.get("merge_commit_sha") or data.get("squash_commit_sha") or data.get("sha"),
        merged_by=(data.get("merge_user") or data.get("merged_by") or {}).get("username"),
        merged_at=data.get("merged_at"),
        author=(data.get("author") or {}).get("username"),
    )


def pull_request_from_hook(payload: dict[str, Any]) -> PullRequest:
    """A PullRequest from a Merge Request Hook body (its `object_attributes` differ from the API entity:
    `last_commit.id` is the head, `url` the page, `merge_user_id` instead of a user, and the actor in
    `user`)."""
    attrs = payload.get("object_attributes") or {}
    return _merge_request(
        attrs,
        url=attrs.get("url") or "",
        head_sha=(attrs.get("last_commit") or {}).get("id") or "",
        merge_commit_sha=attrs.get("merge_commit_sha") or None,
        merged_by=(payload.get("user") or {}).get("username"),
        merged_at=attrs.get("updated_at"),
        author=None,
    )


def _merge_request(
    attrs: dict[str, Any],
    *,
    url: str,
    head_sha: str,
    merge_commit_sha: str | None,
    merged_by: str | None,
    merged_at: str | None,
    author: str | None,
) -> PullRequest:
    """The fields both shapes name alike, and the merge's fields only once it is merged."""
    state = _STATES.get(attrs.get("state") or "opened", PRState.OPEN)
    merged = state is PRState.MERGED
    return PullRequest(
        number=int(attrs["iid"]),
        url=url,
        title=attrs.get("title") or "",
        state=state,
        head_branch=attrs.get("source_branch") or "",
        head_sha=head_sha,
        base_branch=attrs.get("target_branch") or "",
        merged=merged,
        merge_commit_sha=merge_commit_sha if merged else None,
        merged_by=merged_by if merged else None,
        merged_at=parse_time(merged_at) if merged else None,
        author=author,
    )


class GitLabForge(ForgeClient):
    kind = ForgeKind.GITLAB
    # GitLab takes personal/project tokens as Bearer too; unlike PRIVATE-TOKEN, httpx drops Authorization
    # when a redirect leaves the host
    AUTH_SCHEME = "Bearer"
    PAGE = PAGE
    PR, PR_SIGN, PR_LONG = "MR", "!", "merge request"
    PULLS = "merge_requests"
    REPO = "project"
    REPO_FIELDS = ("path_with_namespace", "http_url_to_repo", "web_url")
    CLOSE = ("PUT", {"state_event": "close"})

    def __init__(self, config: ForgeConfig, *, rebase_poll: float = 1.0, **http_options: Any) -> None:
        super().__init__(config, **http_options)
        self.rebase_poll = rebase_poll
        self.repo_path = f"/projects/{quote(config.repo, safe='')}"

    def pull_request(self, data: dict[str, Any]) -> PullRequest:
        return pull_request_from(data)

    def _last_page(self, response: httpx.Response, count: int, seen: int) -> bool:
        # X-Next-Page is empty on the last page (and absent where GitLab does not count)
        return count < PAGE or not response.headers.get("x-next-page", "x")

    def _new_pull_request(self, *, head: str, base: str, title: str, body: str) -> dict[str, Any]:
        return {"source_branch": head, "target_branch": base, "title": title, "description": body}

    def _open_pull_request(self, call: str, *, head: str, base: str) -> PullRequest | None:
        # after 409 "Another open merge request already exists for this source branch"
        params = {"state": "opened", "source_branch": head, "target_branch": base}
        existing = self._paged(call, f"{self.repo_path}/merge_requests", params)
        return self.pull_request(existing[0]) if existing else None

    def _diffs(self, number: int) -> list[dict[str, Any]]:
        return self._paged(f"list diffs of MR !{number}", f"{self._pr_path(number)}/diffs")

    def pull_request_files(self, number: int) -> list[ChangedFile]:
        files = []
        for d in self._diffs(number):
            added = removed = 0
            for line in (d.get("diff") or "").splitlines():
                if line.startswith("+") and not line.startswith("+++"):
                    added += 1
                elif line.startswith("-") and not line.startswith("---"):
                    removed += 1
            status = (
                "added"
                if d.get("new_file")
                else "deleted"
                if d.get("deleted_file")
                else "renamed"
                if d.get("renamed_file")
                else "modified"
            )
            files.append(
                ChangedFile(
                    filename=d.get("new_path") or "", status=status, additions=added, deletions=removed
                )
            )
        return files

    def pull_request_diff(self, number: int) -> str:
        """GitLab returns each file's hunks without git headers; they are put back for a unified diff."""
        parts = []
        for d in self._diffs(number):
            old, new = d.get("old_path") or "", d.get("new_path") or ""
            header = [f"diff --git a/{old} b/{new}"]
            if d.get("new_file"):
                header += [f"new file mode {d.get('b_mode') or '100644'}", "--- /dev/null", f"+++ b/{new}"]
            elif d.get("deleted_file"):
                header += [
                    f"deleted file mode {d.get('a_mode') or '100644'}",
                    f"--- a/{old}",
                    "+++ /dev/null",
                ]
            else:
                if d.get("renamed_file"):
                    header += [f"rename from {old}", f"rename to {new}"]
                header += [f"--- a/{old}", f"+++ b/{new}"]
            body = d.get("diff") or ""
            parts.append("\n".join(header) + "\n" + body + ("" if body.endswith("\n") or not body else "\n"))
        return "".join(parts)

    def _merge(
        self, number: int, call: str, *, style: MergeStyle, expected_head_sha: str | None, message: str | None
    ) -> httpx.Response:
        if style is MergeStyle.REBASE:
            self._rebase(number, call)
        body: dict[str, Any] = {"squash": style is MergeStyle.SQUASH}
        if expected_head_sha and style is not MergeStyle.REBASE:  # a rebase gives the MR a new head
            body["sha"] = expected_head_sha
        if message:
            body["squash_commit_message" if style is MergeStyle.SQUASH else "merge_commit_message"] = message
        return self.http.request(
            call, "PUT", f"{self._pr_path(number)}/merge", json=body, expect=(200, 405, 406, 409, 422)
        )

    def _merged(self, number: int, call: str, response: httpx.Response) -> PullRequest:
        return self._pull(call, response)  # GitLab answers a merge with the merged MR

    def _rebase(self, number: int, call: str) -> None:
        """Rebase the source branch onto the target (GitLab does it in the background) and wait for it."""
        self.http.request(call, "PUT", f"{self._pr_path(number)}/rebase", expect=(202,))
        for _ in range(60):
            data = self.http.request(
                call, "GET", self._pr_path(number), params={"include_rebase_in_progress": "true"}
            ).json()
            if data.get("merge_error"):
                raise self.http.failure(call, f"rebase failed: {data['merge_error']}", ForgeConflict)
            if not data.get("rebase_in_progress"):
                return
            time.sleep(self.rebase_poll)
        raise self.http.failure(call, "the rebase did not finish in time")

    def _comments_path(self, number: int) -> str:
        return f"{self._pr_path(number)}/notes"

    def _comment(self, data: dict[str, Any], number: int) -> PRComment:
        mr_url = f"{self.config.api_url.split('/api/v4')[0]}/{self.config.repo}/-/merge_requests/{number}"
        return PRComment(
            id=str(data["id"]),
            author=(data.get("author") or {}).get("username") or "",
            body=data.get("body") or "",
            url=f"{mr_url}#note_{data['id']}",
            created_at=parse_time(data.get("created_at")),
            kind="review_comment" if data.get("type") == "DiffNote" else "comment",
        )

    def list_comments(self, number: int) -> list[PRComment]:
        notes = self._paged(
            f"list notes of MR !{number}",
            self._comments_path(number),
            {"sort": "asc", "order_by": "created_at"},
        )
        comments = [self._comment(n, number) for n in notes if not n.get("system")]
        approvals = self.http.request(
            f"get approvals of MR !{number}",
            "GET",
            f"{self._pr_path(number)}/approvals",
            expect=(200, 403, 404),
        )
        if approvals.status_code == 200:  # approvals need a licence on some GitLab editions; absent is fine
            for a in approvals.json().get("approved_by") or []:
                user = (a.get("user") or {}).get("username") or ""
                comments.append(
                    PRComment(
                        id=f"approval-{user}",
                        author=user,
                        body="",
                        url=None,
                        created_at=None,
                        kind="review",
                        state="APPROVED",
                    )
                )
        return oldest_first(comments)

    def request_reviewers(self, number: int, reviewers: list[str]) -> None:
        call = f"request reviewers for MR !{number}"
        ids = []
        for name in reviewers:
            users = self.http.request(call, "GET", "/users", params={"username": name}).json()
            if not users:  # GitLab answers 200 [] for a name it does not know: a 404 of ours
                raise ForgeError(self.http.forge, call, 404, f"no user {name!r}")
            ids.append(users[0]["id"])
        current = self.http.request(call, "GET", self._pr_path(number)).json()
        ids = sorted({*(r["id"] for r in current.get("reviewers") or []), *ids})
        self.http.request(call, "PUT", self._pr_path(number), json={"reviewer_ids": ids})

    def _checks(self, sha: str) -> list[Check]:
        statuses = self._paged(
            f"list statuses of {sha[:12]}",
            f"{self.repo_path}/repository/commits/{quote(sha, safe='')}/statuses",
        )
        latest: dict[str, dict[str, Any]] = {}
        for s in statuses:  # a retried job reports again under the same name: the newest wins
            if s.get("name") not in latest or (s.get("id") or 0) > (latest[s["name"]].get("id") or 0):
                latest[s.get("name") or ""] = s
        return [
            Check(
                name=name,
                state=_CHECK_STATES.get(s.get("status") or "", CheckState.PENDING),
                url=s.get("target_url") or None,
            )
            for name, s in latest.items()
            if not (s.get("allow_failure") and s.get("status") == "failed")
        ]

    def contains_commit(self, commit: str, *, in_commit: str) -> bool:
        data = self.http.request(
            f"merge base of {commit[:12]} and {in_commit[:12]}",
            "GET",
            f"{self.repo_path}/repository/merge_base",
            params=[("refs[]", commit), ("refs[]", in_commit)],
        ).json()
        base = data.get("id") or ""
        return bool(base) and (base == commit or (len(commit) >= 7 and base.startswith(commit)))
