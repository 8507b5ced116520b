"""A fake GitHub REST API (2022-11-28) and its webhooks, from shared/forge-contracts/github (GitHub's own
OpenAPI examples and the octokit webhook payloads) and GitHub's REST docs."""

from __future__ import annotations

import copy
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

from tests.forgefake.core import (
    ApiError,
    FakeComment,
    FakePR,
    FakeRepo,
    FakeUser,
    Handler,
    iso,
    json_body,
    now,
)
from tests.forgefake.git import GitError
from tests.forgefake.github_hooks import GitHubHooks, _sample

DOCS = "https://docs.github.com/rest"


class FakeGitHub(GitHubHooks):
    kind = "github"
    api_prefix = ""  # api.github.com serves the API at its root

    def user_json(self, user: FakeUser) -> dict[str, Any]:
        data = copy.deepcopy(_sample("api-pull_request-create-response.json")["user"])
        api = f"{self.api_url}/users/{user.login}"
        data.update(
            login=user.login,
            id=user.id,
            node_id=f"U_{user.id}",
            url=api,
            html_url=f"{self.url}/{user.login}",
            repos_url=f"{api}/repos",
            type="User",
            site_admin=False,
        )
        return data

    def repo_json(self, repo: FakeRepo) -> dict[str, Any]:
        data = copy.deepcopy(_sample("webhook-pull_request-closed.json")["repository"])
        data.update(
            id=repo.id,
            node_id=f"R_{repo.id}",
            name=repo.name,
            full_name=repo.full_name,
            owner=self.user_json(repo.owner),
            html_url=f"{self.url}/{repo.full_name}",
            url=f"{self.api_url}/repos/{repo.full_name}",
            clone_url=repo.bare.url,
            git_url=repo.bare.url,
            ssh_url=f"git@127.0.0.1:{repo.full_name}.git",
            default_branch=repo.default_branch,
            private=False,
        )
        return data

    def pr_json(self, repo: FakeRepo, pr: FakePR) -> dict[str, Any]:
        data = copy.deepcopy(_sample("api-pull_request-create-response.json"))
        api = f"{self.api_url}/repos/{repo.full_name}"
        web = f"{self.url}/{repo.full_name}/pull/{pr.number}"
        head_sha = repo.head_sha(pr)
        base_sha = repo.bare.rev(f"refs/heads/{pr.base}")
        diff_base = repo.diff_base(pr)
        files = repo.bare.numstat(diff_base, head_sha)
        repo_json = self.repo_json(repo)
        mergeable = pr.state == "open" and repo.bare.can_merge(base_sha, head_sha)
        data.update(
            url=f"{api}/pulls/{pr.number}",
            id=pr.id,
            node_id=f"PR_{pr.id}",
            html_url=web,
            diff_url=f"{web}.diff",
            patch_url=f"{web}.patch",
            issue_url=f"{api}/issues/{pr.number}",
            commits_url=f"{api}/pulls/{pr.number}/commits",
            comments_url=f"{api}/issues/{pr.number}/comments",
            review_comments_url=f"{api}/pulls/{pr.number}/comments",
            statuses_url=f"{api}/statuses/{head_sha}",
            number=pr.number,
            state=pr.state,
            locked=False,
            title=pr.title,
            user=self.user_json(pr.author),
            body=pr.body,
            labels=[],
            milestone=None,
            created_at=iso(pr.created_at),
            updated_at=iso(pr.updated_at),
            closed_at=iso(pr.closed_at),
            merged_at=iso(pr.merged_at),
            # GitHub fills merge_commit_sha with a test merge while open: only `merged` says it was merged
            merge_commit_sha=pr.merge_commit or (head_sha if pr.state == "open" else None),
            assignee=None,
            assignees=[],
            requested_reviewers=[self.user_json(u) for u in pr.requested_reviewers],
            requested_teams=[],
            draft=False,
            merged=pr.merged,
            mergeable=mergeable if pr.state == "open" else None,
            rebaseable=mergeable,
            mergeable_state="clean" if mergeable else "dirty",
            merged_by=self.user_json(pr.merged_by) if pr.merged_by else None,
            comments=sum(1 for c in pr.comments if c.kind == "comment"),
            review_comments=sum(1 for c in pr.comments if c.kind == "review_comment"),
            commits=len(repo.bare.commits_between(diff_base, head_sha)),
            additions=sum(f[2] for f in files),
            deletions=sum(f[3] for f in files),
            changed_files=len(files),
            auto_merge=None,
            author_association="MEMBER",
        )
        owner = self.user_json(repo.owner)
        data["head"] = {
            "label": f"{repo.owner.login}:{pr.head}",
            "ref": pr.head,
            "sha": head_sha,
            "user": owner,
            "repo": repo_json,
        }
        data["base"] = {
            "label": f"{repo.owner.login}:{pr.base}",
            "ref": pr.base,
            "sha": base_sha,
            "user": owner,
            "repo": repo_json,
        }
        return data

    def comment_json(self, repo: FakeRepo, pr: FakePR, c: FakeComment) -> dict[str, Any]:
        api = f"{self.api_url}/repos/{repo.full_name}"
        anchor = "discussion_r" if c.kind == "review_comment" else "issuecomment-"
        data = {
            "id": c.id,
            "node_id": f"IC_{c.id}",
            "url": f"{api}/issues/comments/{c.id}",
            "html_url": f"{self.url}/{repo.full_name}/pull/{pr.number}#{anchor}{c.id}",
            "body": c.body,
            "user": self.user_json(c.author),
            "created_at": iso(c.created_at),
            "updated_at": iso(c.created_at),
            "issue_url": f"{api}/issues/{pr.number}",
            "author_association": self.associations.get(c.author.login, "MEMBER"),
        }
        if c.kind == "review_comment":
            data.update(
                path="app/calc.py", commit_id=c.commit_id, pull_request_url=f"{api}/pulls/{pr.number}"
            )
        return data

    def review_json(self, repo: FakeRepo, pr: FakePR, c: FakeComment) -> dict[str, Any]:
        state = {"REQUEST_CHANGES": "CHANGES_REQUESTED", "COMMENT": "COMMENTED"}.get(c.state or "", c.state)
        return {
            "id": c.id,
            "node_id": f"PRR_{c.id}",
            "user": self.user_json(c.author),
            "body": c.body,
            "state": state or "COMMENTED",
            "commit_id": c.commit_id,
            "submitted_at": iso(c.created_at),
            "html_url": f"{self.url}/{repo.full_name}/pull/{pr.number}#pullrequestreview-{c.id}",
            "pull_request_url": f"{self.api_url}/repos/{repo.full_name}/pulls/{pr.number}",
            "author_association": self.associations.get(c.author.login, "MEMBER"),
        }

    # ---- API --------------------------------------------------------------------------------------------
    def authorized(self, request: Request) -> bool:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        return scheme.lower() in ("token", "bearer") and token == self.token

    def error_response(self, error: ApiError) -> Response:
        body = {"message": error.message, "documentation_url": DOCS, **error.extra}
        if error.status == 401:
            body["message"] = "Bad credentials"
        return JSONResponse(body, status_code=error.status)

    def routes(self) -> list[tuple[str, str, Handler]]:
        r = "/repos/{owner}/{repo}"
        return [
            ("GET", r, self.get_repo),
            ("GET", r + "/pulls", self.list_pulls),
            ("POST", r + "/pulls", self.create_pull),
            ("GET", r + "/pulls/{number:int}", self.get_pull),
            ("PATCH", r + "/pulls/{number:int}", self.update_pull),
            ("GET", r + "/pulls/{number:int}/files", self.pull_files),
            ("GET", r + "/pulls/{number:int}/merge", self.is_merged),
            ("PUT", r + "/pulls/{number:int}/merge", self.merge_pull),
            ("GET", r + "/pulls/{number:int}/reviews", self.list_reviews),
            ("GET", r + "/pulls/{number:int}/comments", self.list_review_comments),
            ("POST", r + "/pulls/{number:int}/requested_reviewers", self.request_reviewers),
            ("GET", r + "/issues/{number:int}/comments", self.list_comments),
            ("POST", r + "/issues/{number:int}/comments", self.create_comment),
            ("GET", r + "/commits/{ref}/status", self.combined_status),
            ("GET", r + "/commits/{ref}/check-runs", self.check_runs),
            ("GET", r + "/compare/{basehead:path}", self.compare),
        ]

    def _repo(self, owner: str, repo: str) -> FakeRepo:
        if f"{owner}/{repo}" not in self.repos:
            raise ApiError(404, "Not Found")
        return self.repos[f"{owner}/{repo}"]

    def _pr(self, owner: str, repo: str, number: int) -> tuple[FakeRepo, FakePR]:
        r = self._repo(owner, repo)
        if number not in r.prs:
            raise ApiError(404, "Not Found")
        return r, r.prs[number]

    @staticmethod
    def _page(request: Request, items: list[Any]) -> list[Any]:
        page = int(request.query_params.get("page", 1))
        per_page = min(int(request.query_params.get("per_page", 30)), 100)
        return items[(page - 1) * per_page : page * per_page]

    def _linked(self, request: Request, items: list[Any]) -> tuple[list[Any], dict[str, str]]:
        """A page of `items` and GitHub's Link header (next/last, first/prev) when there is more than one."""
        page = max(int(request.query_params.get("page", 1)), 1)
        per_page = min(int(request.query_params.get("per_page", 30)), 100)
        last = max((len(items) + per_page - 1) // per_page, 1)

        def link(to: int, rel: str) -> str:
            return f'<{request.url.include_query_params(page=to)}>; rel="{rel}"'

        links = [link(page + 1, "next"), link(last, "last")] if page < last else []
        links += [link(1, "first"), link(page - 1, "prev")] if page > 1 else []
        return self._page(request, items), ({"Link": ", ".join(links)} if links else {})

    def get_repo(self, request: Request, body: bytes, owner: str, repo: str) -> Response:
        return JSONResponse(self.repo_json(self._repo(owner, repo)))

    def list_pulls(self, request: Request, body: bytes, owner: str, repo: str) -> Response:
        r = self._repo(owner, repo)
        q = request.query_params
        state = q.get("state", "open")
        items = [
            self.pr_json(r, pr)
            for pr in sorted(r.prs.values(), key=lambda p: p.number, reverse=True)
            if (state == "all" or pr.state == state)
            and (not q.get("head") or q["head"] == f"{r.owner.login}:{pr.head}")
            and (not q.get("base") or q["base"] == pr.base)
        ]
        return JSONResponse(self._page(request, items))

    def create_pull(self, request: Request, body: bytes, owner: str, repo: str) -> Response:
        data = json_body(body)
        r = self._repo(owner, repo)
        missing = [
            f for f in ("head", "base", "title") if not isinstance(data.get(f), str) or not data.get(f)
        ]
        if missing:
            raise ApiError(
                422,
                "Validation Failed",
                errors=[{"resource": "PullRequest", "field": f, "code": "missing_field"} for f in missing],
            )
        head, base = data["head"].split(":")[-1], data["base"]
        if not r.bare.has(f"refs/heads/{head}") or not r.bare.has(f"refs/heads/{base}"):
            raise ApiError(
                422,
                "Validation Failed",
                errors=[
                    {
                        "resource": "PullRequest",
                        "field": "head" if not r.bare.has(head) else "base",
                        "code": "invalid",
                    }
                ],
            )
        if not r.bare.commits_between(r.bare.rev(base), r.bare.rev(head)):
            raise ApiError(
                422,
                "Validation Failed",
                errors=[
                    {
                        "resource": "PullRequest",
                        "code": "custom",
                        "message": f"No commits between {base} and {head}",
                    }
                ],
            )
        if any(p.state == "open" and p.head == head and p.base == base for p in r.prs.values()):
            raise ApiError(
                422,
                "Validation Failed",
                errors=[
                    {
                        "resource": "PullRequest",
                        "code": "custom",
                        "message": f"A pull request already exists for {r.owner.login}:{head}.",
                    }
                ],
            )
        pr = self.create_pr(
            r, head=head, base=base, title=data["title"], body=data.get("body") or "", author=self.bot
        )
        return JSONResponse(
            self.pr_json(r, pr),
            status_code=201,
            headers={"Location": f"{self.api_url}/repos/{r.full_name}/pulls/{pr.number}"},
        )

    def get_pull(self, request: Request, body: bytes, owner: str, repo: str, number: int) -> Response:
        r, pr = self._pr(owner, repo, number)
        if "diff" in request.headers.get("accept", ""):  # application/vnd.github.diff (or .v3.diff)
            base = r.diff_base(pr)
            return PlainTextResponse(
                r.bare.diff(base, r.head_sha(pr)), media_type="application/vnd.github.diff"
            )
        return JSONResponse(self.pr_json(r, pr))

    def update_pull(self, request: Request, body: bytes, owner: str, repo: str, number: int) -> Response:
        data = json_body(body)
        r, pr = self._pr(owner, repo, number)
        if data.get("state") not in (None, "open", "closed"):
            raise ApiError(
                422,
                "Validation Failed",
                errors=[{"resource": "PullRequest", "field": "state", "code": "invalid"}],
            )
        # A merged PR's state cannot change: GitHub refuses closing it as it refuses reopening it, 422
        # "Validation Failed" (reopening: "state cannot be changed. The pull request cannot be reopened.").
        if data.get("state") is not None and pr.merged:
            raise ApiError(
                422,
                "Validation Failed",
                errors=[
                    {
                        "resource": "PullRequest",
                        "field": "state",
                        "code": "custom",
                        "message": "state cannot be changed. The pull request has been merged.",
                    }
                ],
            )
        if data.get("state") == "closed" and pr.state == "open":
            self.close_pr(r.full_name, number)
        elif data.get("state") == "open" and pr.state == "closed":
            self.reopen_pr(r.full_name, number)
        if isinstance(data.get("title"), str):
            pr.title = data["title"]
        return JSONResponse(self.pr_json(r, pr))

    def pull_files(self, request: Request, body: bytes, owner: str, repo: str, number: int) -> Response:
        r, pr = self._pr(owner, repo, number)
        base = r.diff_base(pr)
        head = r.head_sha(pr)
        files = [
            {
                "sha": head,
                "filename": name,
                "status": status,
                "additions": add,
                "deletions": dele,
                "changes": add + dele,
                "blob_url": f"{self.url}/{r.full_name}/blob/{head}/{name}",
                "raw_url": f"{self.url}/{r.full_name}/raw/{head}/{name}",
                "contents_url": f"{self.api_url}/repos/{r.full_name}/contents/{name}?ref={head}",
            }
            for name, status, add, dele in r.bare.numstat(base, head)
        ]
        return JSONResponse(self._page(request, files))

    def is_merged(self, request: Request, body: bytes, owner: str, repo: str, number: int) -> Response:
        _, pr = self._pr(owner, repo, number)
        return Response(status_code=204) if pr.merged else self.error_response(ApiError(404, "Not Found"))

    def merge_pull(self, request: Request, body: bytes, owner: str, repo: str, number: int) -> Response:
        data = json_body(body)
        r, pr = self._pr(owner, repo, number)
        method = data.get("merge_method", "merge")
        if method not in ("merge", "squash", "rebase"):
            raise ApiError(
                422,
                "Validation Failed",
                errors=[{"resource": "PullRequest", "field": "merge_method", "code": "invalid"}],
            )
        if pr.merged or pr.state != "open":
            raise ApiError(405, "Pull Request is not mergeable")
        if data.get("sha") and data["sha"] != r.head_sha(pr):
            raise ApiError(409, "Head branch was modified. Review and try the merge again.")
        if not r.bare.can_merge(f"refs/heads/{pr.base}", f"refs/heads/{pr.head}"):
            raise ApiError(405, "Pull Request is not mergeable")
        title = data.get("commit_title") or f"Merge pull request #{pr.number} from {r.owner.login}/{pr.head}"
        message = title + ("\n\n" + data["commit_message"] if data.get("commit_message") else "")
        try:
            self.merge_pr(r.full_name, number, style=method, message=message)
        except GitError as exc:
            raise ApiError(405, f"Pull Request is not mergeable: {exc}") from None
        return JSONResponse(
            {"sha": pr.merge_commit, "merged": True, "message": "Pull Request successfully merged"}
        )

    def list_reviews(self, request: Request, body: bytes, owner: str, repo: str, number: int) -> Response:
        r, pr = self._pr(owner, repo, number)
        return JSONResponse(
            self._page(request, [self.review_json(r, pr, c) for c in pr.comments if c.kind == "review"])
        )

    def list_review_comments(
        self, request: Request, body: bytes, owner: str, repo: str, number: int
    ) -> Response:
        r, pr = self._pr(owner, repo, number)
        return JSONResponse(
            self._page(
                request, [self.comment_json(r, pr, c) for c in pr.comments if c.kind == "review_comment"]
            )
        )

    def request_reviewers(
        self, request: Request, body: bytes, owner: str, repo: str, number: int
    ) -> Response:
        data = json_body(body)
        r, pr = self._pr(owner, repo, number)
        if not isinstance(data.get("reviewers", []), list):
            raise ApiError(422, "Validation Failed")
        for login in data.get("reviewers") or []:
            if login == pr.author.login:
                raise ApiError(422, "Review cannot be requested from pull request author.")
            if self.user(login) not in pr.requested_reviewers:
                pr.requested_reviewers.append(self.user(login))
        return JSONResponse(self.pr_json(r, pr), status_code=201)

    def list_comments(self, request: Request, body: bytes, owner: str, repo: str, number: int) -> Response:
        r, pr = self._pr(owner, repo, number)
        return JSONResponse(
            self._page(request, [self.comment_json(r, pr, c) for c in pr.comments if c.kind == "comment"])
        )

    def create_comment(self, request: Request, body: bytes, owner: str, repo: str, number: int) -> Response:
        data = json_body(body)
        r, pr = self._pr(owner, repo, number)
        if not isinstance(data.get("body"), str) or not data["body"]:
            raise ApiError(
                422,
                "Validation Failed",
                errors=[{"resource": "IssueComment", "field": "body", "code": "missing_field"}],
            )
        comment = FakeComment(id=self.next_id(), author=self.bot, body=data["body"], created_at=now())
        pr.comments.append(comment)
        return JSONResponse(self.comment_json(r, pr, comment), status_code=201)

    def _statuses(self, r: FakeRepo, ref: str) -> tuple[str, list[dict[str, Any]]]:
        if not r.bare.has(ref):
            raise ApiError(422, f"No commit found for SHA: {ref}")
        sha = r.bare.rev(ref)
        latest: dict[str, dict[str, Any]] = {}
        for s in r.statuses.get(sha, []):
            latest[s["context"]] = s
        return sha, list(latest.values())

    def combined_status(self, request: Request, body: bytes, owner: str, repo: str, ref: str) -> Response:
        """The newest status of each context, paged (`per_page` 30 by default, at most 100) with a Link
        header; `state` and `total_count` speak for all of them."""
        r = self._repo(owner, repo)
        sha, entries = self._statuses(r, ref)
        statuses = [s for s in entries if not s["context"].startswith("check:")]
        states = {s["state"] for s in statuses}
        state = (
            "failure"
            if states & {"failure", "error"}
            else "pending"
            if "pending" in states or not states
            else "success"
        )
        page, headers = self._linked(request, statuses)
        return JSONResponse(
            {
                "state": state,
                "sha": sha,
                "total_count": len(statuses),
                "repository": self.repo_json(r),
                "commit_url": f"{self.api_url}/repos/{r.full_name}/commits/{sha}",
                "url": f"{self.api_url}/repos/{r.full_name}/commits/{sha}/status",
                "statuses": [
                    {
                        "id": s["id"],
                        "state": s["state"],
                        "context": s["context"],
                        "description": None,
                        "target_url": s["url"],
                        "created_at": iso(s["at"]),
                        "updated_at": iso(s["at"]),
                    }
                    for s in page
                ],
            },
            headers=headers,
        )

    def check_runs(self, request: Request, body: bytes, owner: str, repo: str, ref: str) -> Response:
        """Check runs are statuses whose context starts with `check:`; their state is `queued`,
        `in_progress` or a conclusion (`success`, `failure`, ...). Paged like the combined status;
        `total_count` counts all of them."""
        r = self._repo(owner, repo)
        sha, entries = self._statuses(r, ref)
        runs = []
        for s in entries:
            if not s["context"].startswith("check:"):
                continue
            done = s["state"] not in ("queued", "in_progress")
            runs.append(
                {
                    "id": s["id"],
                    "head_sha": sha,
                    "name": s["context"].removeprefix("check:"),
                    "status": "completed" if done else s["state"],
                    "conclusion": s["state"] if done else None,
                    "html_url": s["url"],
                    "started_at": iso(s["at"]),
                    "completed_at": iso(s["at"]) if done else None,
                }
            )
        page, headers = self._linked(request, runs)
        return JSONResponse({"total_count": len(runs), "check_runs": page}, headers=headers)

    def compare(self, request: Request, body: bytes, owner: str, repo: str, basehead: str) -> Response:
        r = self._repo(owner, repo)
        base, sep, head = basehead.partition("...")
        if not sep or not r.bare.has(base) or not r.bare.has(head):
            raise ApiError(404, "Not Found")
        base_sha, head_sha = r.bare.rev(base), r.bare.rev(head)
        ahead = r.bare.commits_between(base_sha, head_sha)
        behind = r.bare.commits_between(head_sha, base_sha)
        status = (
            "identical"
            if not ahead and not behind
            else "behind"
            if not ahead
            else "ahead"
            if not behind
            else "diverged"
        )
        merge_base = r.bare.merge_base(base_sha, head_sha)
        return JSONResponse(
            {
                "url": f"{self.api_url}/repos/{r.full_name}/compare/{basehead}",
                "html_url": f"{self.url}/{r.full_name}/compare/{basehead}",
                "status": status,
                "ahead_by": len(ahead),
                "behind_by": len(behind),
                "total_commits": len(ahead),
                "merge_base_commit": {"sha": merge_base},
                "base_commit": {"sha": base_sha},
                "commits": [{"sha": s} for s in ahead[: int(request.query_params.get("per_page", 250))]],
                "files": [],
            }
        )
