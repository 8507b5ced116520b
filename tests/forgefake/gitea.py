"""A fake Gitea 1.26 API (/api/v1) and its webhooks, from shared/forge-contracts/gitea.

Every request body and every response is checked against Gitea's swagger: a malformed request gets Gitea's 422
`validationError`; a response that would not validate is recorded in `contract_errors` (the fixture fails the
test) and answered as 500, so a drifting fake cannot pass silently.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

from tests.forgefake import swagger
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
from tests.forgefake.gitea_hooks import GiteaHooks, _template

SWAGGER_URL = "http://localhost:3000/api/swagger"


class FakeGitea(GiteaHooks):
    kind = "gitea"
    api_prefix = "/api/v1"
    max_response_items = 50  # [api] MAX_RESPONSE_ITEMS: the most a page holds, whatever `limit` asks

    # ---- JSON shapes (filled-in copies of the contract samples) --------------------------------------------
    def user_json(self, user: FakeUser) -> dict[str, Any]:
        data = _template("api-pull_request-create-response.json")["user"]
        data.update(
            id=user.id,
            login=user.login,
            full_name=user.login,
            email=user.email,
            avatar_url=f"{self.url}/avatars/{user.id}",
            html_url=f"{self.url}/{user.login}",
        )
        return data

    def repo_json(self, repo: FakeRepo) -> dict[str, Any]:
        data = _template("api-pull_request-create-response.json")["base"]["repo"]
        web = f"{self.url}/{repo.full_name}"
        data.update(
            id=repo.id,
            owner=self.user_json(repo.owner),
            name=repo.name,
            full_name=repo.full_name,
            html_url=web,
            url=f"{self.api_url}/repos/{repo.full_name}",
            clone_url=repo.bare.url,
            ssh_url=f"git@127.0.0.1:{repo.full_name}.git",
            default_branch=repo.default_branch,
            languages_url=f"{self.api_url}/repos/{repo.full_name}/languages",
            open_pr_counter=sum(1 for p in repo.prs.values() if p.state == "open"),
        )
        return data

    def pr_json(self, repo: FakeRepo, pr: FakePR) -> dict[str, Any]:
        data = _template("api-pull_request-create-response.json")
        web = f"{self.url}/{repo.full_name}/pulls/{pr.number}"
        head_sha = repo.head_sha(pr)
        base_sha = repo.bare.rev(f"refs/heads/{pr.base}")
        files = repo.bare.numstat(repo.diff_base(pr), head_sha)
        repo_json = self.repo_json(repo)
        data.update(
            id=pr.id,
            url=web,
            number=pr.number,
            user=self.user_json(pr.author),
            title=pr.title,
            body=pr.body,
            requested_reviewers=[self.user_json(u) for u in pr.requested_reviewers],
            state=pr.state,
            comments=sum(1 for c in pr.comments if c.kind == "comment"),
            additions=sum(f[2] for f in files),
            deletions=sum(f[3] for f in files),
            changed_files=len(files),
            html_url=web,
            diff_url=f"{web}.diff",
            patch_url=f"{web}.patch",
            mergeable=pr.state == "open" and repo.bare.can_merge(base_sha, head_sha),
            merged=pr.merged,
            merged_at=iso(pr.merged_at),
            merge_commit_sha=pr.merge_commit,
            merged_by=self.user_json(pr.merged_by) if pr.merged_by else None,
            merge_base=repo.bare.merge_base(base_sha, head_sha),
            created_at=iso(pr.created_at),
            updated_at=iso(pr.updated_at),
            closed_at=iso(pr.closed_at),
        )
        data["head"] = {
            "label": pr.head,
            "ref": pr.head,
            "sha": head_sha,
            "repo_id": repo.id,
            "repo": repo_json,
        }
        data["base"] = {
            "label": pr.base,
            "ref": pr.base,
            "sha": base_sha,
            "repo_id": repo.id,
            "repo": repo_json,
        }
        return data

    def comment_json(self, repo: FakeRepo, pr: FakePR, c: FakeComment) -> dict[str, Any]:
        return {
            "id": c.id,
            "html_url": f"{self.url}/{repo.full_name}/pulls/{pr.number}#issuecomment-{c.id}",
            "pull_request_url": f"{self.url}/{repo.full_name}/pulls/{pr.number}",
            "issue_url": "",
            "user": self.user_json(c.author),
            "original_author": "",
            "original_author_id": 0,
            "body": c.body,
            "assets": [],
            "created_at": iso(c.created_at),
            "updated_at": iso(c.created_at),
        }

    def review_json(self, repo: FakeRepo, pr: FakePR, c: FakeComment) -> dict[str, Any]:
        web = f"{self.url}/{repo.full_name}/pulls/{pr.number}"
        return {
            "id": c.id,
            "user": self.user_json(c.author),
            "team": None,
            "state": c.state or "COMMENT",
            "body": c.body,
            "commit_id": c.commit_id or "",
            "stale": False,
            "official": True,
            "dismissed": False,
            "comments_count": 0,
            "submitted_at": iso(c.created_at),
            "updated_at": iso(c.created_at),
            "html_url": f"{web}#issuecomment-{c.id}",
            "pull_request_url": web,
        }

    # ---- API -----------------------------------------------------------------------------------------------
    def authorized(self, request: Request) -> bool:
        value = request.headers.get("authorization", "")
        scheme, _, token = value.partition(" ")
        return scheme.lower() in ("token", "bearer") and token == self.token

    def error_response(self, error: ApiError) -> Response:
        return JSONResponse(
            {"message": error.message, "url": SWAGGER_URL, **error.extra}, status_code=error.status
        )

    def routes(self) -> list[tuple[str, str, Handler]]:
        r = "/repos/{owner}/{repo}"
        return [
            ("GET", r, self.get_repo),
            ("POST", r + "/pulls", self.create_pull),
            ("GET", r + "/pulls/{index:int}", self.get_pull),
            ("PATCH", r + "/pulls/{index:int}", self.edit_pull),
            ("GET", r + "/pulls/{index:int}.{difftype}", self.pull_diff),
            ("GET", r + "/pulls/{index:int}/files", self.pull_files),
            ("GET", r + "/pulls/{index:int}/merge", self.is_merged),
            ("POST", r + "/pulls/{index:int}/merge", self.merge_pull),
            ("GET", r + "/pulls/{index:int}/reviews", self.list_reviews),
            ("POST", r + "/pulls/{index:int}/requested_reviewers", self.request_reviewers),
            ("GET", r + "/pulls/{base}/{head}", self.pull_by_branches),
            ("GET", r + "/issues/{index:int}/comments", self.list_comments),
            ("POST", r + "/issues/{index:int}/comments", self.create_comment),
            ("GET", r + "/commits/{ref}/status", self.combined_status),
            ("GET", r + "/compare/{basehead:path}", self.compare),
        ]

    # swagger path templates of the handlers, for validation
    TEMPLATES = {
        "get_repo": "/repos/{owner}/{repo}",
        "create_pull": "/repos/{owner}/{repo}/pulls",
        "get_pull": "/repos/{owner}/{repo}/pulls/{index}",
        "edit_pull": "/repos/{owner}/{repo}/pulls/{index}",
        "pull_diff": "/repos/{owner}/{repo}/pulls/{index}.{diffType}",
        "pull_files": "/repos/{owner}/{repo}/pulls/{index}/files",
        "is_merged": "/repos/{owner}/{repo}/pulls/{index}/merge",
        "merge_pull": "/repos/{owner}/{repo}/pulls/{index}/merge",
        "list_reviews": "/repos/{owner}/{repo}/pulls/{index}/reviews",
        "request_reviewers": "/repos/{owner}/{repo}/pulls/{index}/requested_reviewers",
        "pull_by_branches": "/repos/{owner}/{repo}/pulls/{base}/{head}",
        "list_comments": "/repos/{owner}/{repo}/issues/{index}/comments",
        "create_comment": "/repos/{owner}/{repo}/issues/{index}/comments",
        "combined_status": "/repos/{owner}/{repo}/commits/{ref}/status",
        "compare": "/repos/{owner}/{repo}/compare/{basehead}",
    }

    def _body(self, request: Request, handler: Handler, body: bytes) -> dict[str, Any]:
        """The JSON body, rejected with Gitea's 422 when it does not fit the swagger schema."""
        data = json_body(body)
        errors = swagger.request_errors(request.method, self.TEMPLATES[handler.__name__], data)
        if errors:
            raise ApiError(422, "[" + "; ".join(errors) + "]")
        return data

    def check(self, request: Request, handler: Handler, body: bytes, response: Response) -> None:
        if response.media_type != "application/json" or response.status_code == 401:
            return
        if response.status_code == 422:  # Gitea's binding layer answers a bad body with 422 on any route
            try:
                sent = json_body(body)
            except ApiError:
                return
            if swagger.request_errors(request.method, self.TEMPLATES[handler.__name__], sent):
                return
        template = self.TEMPLATES.get(getattr(handler, "__name__", ""), "")
        payload = json.loads(bytes(response.body)) if response.body else None
        errors = swagger.response_errors(request.method, template, response.status_code, payload)
        if errors:
            self.contract_errors += [
                f"{request.method} {template} → {response.status_code}: {e}" for e in errors
            ]

    def _repo(self, owner: str, repo: str) -> FakeRepo:
        return self.repo(f"{owner}/{repo}")

    def get_repo(self, request: Request, body: bytes, owner: str, repo: str) -> Response:
        return JSONResponse(self.repo_json(self._repo(owner, repo)))

    def create_pull(self, request: Request, body: bytes, owner: str, repo: str) -> Response:
        data = self._body(request, self.create_pull, body)
        r = self._repo(owner, repo)
        if not data.get("head") or not data.get("base") or not data.get("title"):
            raise ApiError(422, "[Head]: Required; [Base]: Required; [Title]: Required")
        head, base = data["head"].split(":")[-1], data["base"]
        if not r.bare.has(f"refs/heads/{head}") or not r.bare.has(f"refs/heads/{base}"):
            raise ApiError(404, "The target couldn't be found.")
        if head == base:
            raise ApiError(422, "Invalid PullRequest: There are no changes between the head and the base")
        for pr in r.prs.values():
            if pr.state == "open" and pr.head == head and pr.base == base:
                raise ApiError(
                    409,
                    f"pull request already exists for these targets [id: {pr.id}, issue_id: "
                    f"{pr.number}, head_repo_id: {r.id}, base_repo_id: {r.id}, head_branch: {head}, "
                    f"base_branch: {base}]",
                )
        pr = self.create_pr(
            r, head=head, base=base, title=data["title"], body=data.get("body") or "", author=self.bot
        )
        for login in data.get("reviewers") or []:
            pr.requested_reviewers.append(self.user(login))
        return JSONResponse(self.pr_json(r, pr), status_code=201)

    def get_pull(self, request: Request, body: bytes, owner: str, repo: str, index: int) -> Response:
        r = self._repo(owner, repo)
        return JSONResponse(self.pr_json(r, self.pr(r.full_name, index)))

    def pull_by_branches(
        self, request: Request, body: bytes, owner: str, repo: str, base: str, head: str
    ) -> Response:
        r = self._repo(owner, repo)
        for pr in sorted(r.prs.values(), key=lambda p: p.number, reverse=True):
            if pr.base == base and pr.head == head:
                return JSONResponse(self.pr_json(r, pr))
        raise ApiError(404, "The target couldn't be found.")

    def edit_pull(self, request: Request, body: bytes, owner: str, repo: str, index: int) -> Response:
        data = self._body(request, self.edit_pull, body)
        r = self._repo(owner, repo)
        pr = self.pr(r.full_name, index)
        if data.get("state") in ("closed", "open"):
            if pr.merged:
                raise ApiError(412, "cannot change state of this pull request, it was already merged")
            if data["state"] == "closed" and pr.state == "open":
                self.close_pr(r.full_name, index)
            elif data["state"] == "open" and pr.state == "closed":
                self.reopen_pr(r.full_name, index)
        if data.get("title"):
            pr.title = data["title"]
        if "body" in data and data["body"] is not None:
            pr.body = data["body"]
        return JSONResponse(self.pr_json(r, pr), status_code=201)

    def pull_diff(
        self, request: Request, body: bytes, owner: str, repo: str, index: int, difftype: str
    ) -> Response:
        if difftype not in ("diff", "patch"):
            raise ApiError(404, "The target couldn't be found.")
        r = self._repo(owner, repo)
        pr = self.pr(r.full_name, index)
        base = r.diff_base(pr)
        return PlainTextResponse(r.bare.diff(base, r.head_sha(pr)))

    def pull_files(self, request: Request, body: bytes, owner: str, repo: str, index: int) -> Response:
        r = self._repo(owner, repo)
        pr = self.pr(r.full_name, index)
        base = r.diff_base(pr)
        head = r.head_sha(pr)
        web = f"{self.url}/{r.full_name}"
        files = [
            {
                "filename": name,
                "previous_filename": "",
                "status": status,
                "additions": add,
                "deletions": dele,
                "changes": add + dele,
                "html_url": f"{web}/src/commit/{head}/{name}",
                "contents_url": f"{self.api_url}/repos/{r.full_name}/contents/{name}?ref={head}",
                "raw_url": f"{web}/raw/commit/{head}/{name}",
            }
            for name, status, add, dele in r.bare.numstat(base, head)
        ]
        return self._page(request, files)

    def _page_of(self, request: Request, items: list[Any]) -> tuple[list[Any], int, int]:
        """The items of the page asked for, the page and its size: `limit` (DEFAULT_PAGING_NUM 30 when
        absent) capped at the instance's MAX_RESPONSE_ITEMS."""
        page = max(int(request.query_params.get("page", 1)), 1)
        limit = min(int(request.query_params.get("limit", 0)) or 30, self.max_response_items)
        return items[(page - 1) * limit : page * limit], page, limit

    def _page(self, request: Request, items: list[Any]) -> Response:
        """One page as Gitea hands out a listing, with X-Total-Count and a Link header (next/last,
        first/prev)."""
        chunk, page, limit = self._page_of(request, items)
        last = max((len(items) + limit - 1) // limit, 1)

        def link(to: int, rel: str) -> str:
            return f'<{request.url.include_query_params(page=to)}>; rel="{rel}"'

        links = [link(page + 1, "next"), link(last, "last")] if page < last else []
        links += [link(1, "first"), link(page - 1, "prev")] if page > 1 else []
        headers = {"X-Total-Count": str(len(items))} | ({"Link": ",".join(links)} if links else {})
        return JSONResponse(chunk, headers=headers)

    def is_merged(self, request: Request, body: bytes, owner: str, repo: str, index: int) -> Response:
        pr = self.pr(f"{owner}/{repo}", index)
        return Response(status_code=204 if pr.merged else 404)

    def merge_pull(self, request: Request, body: bytes, owner: str, repo: str, index: int) -> Response:
        data = self._body(request, self.merge_pull, body)
        r = self._repo(owner, repo)
        pr = self.pr(r.full_name, index)
        if pr.merged:
            return Response(status_code=405)  # "The PR is already merged" (swagger: an empty 405)
        if pr.state != "open":
            raise ApiError(404, "The target couldn't be found.")
        if data.get("head_commit_id") and data["head_commit_id"] != r.head_sha(pr):
            raise ApiError(409, "head out of date")
        if not r.bare.can_merge(f"refs/heads/{pr.base}", f"refs/heads/{pr.head}"):
            raise ApiError(409, "Merge conflict")
        title = (
            data.get("merge_title_field")
            or f"Merge pull request '{pr.title}' (#{pr.number}) from {pr.head} into {pr.base}"
        )
        message = title + ("\n\n" + data["merge_message_field"] if data.get("merge_message_field") else "")
        try:
            self.merge_pr(r.full_name, index, style=data["do"], message=message)
        except GitError as exc:
            raise ApiError(409, str(exc)) from None
        return Response(status_code=200)

    def list_reviews(self, request: Request, body: bytes, owner: str, repo: str, index: int) -> Response:
        r = self._repo(owner, repo)
        pr = self.pr(r.full_name, index)
        return JSONResponse([self.review_json(r, pr, c) for c in pr.comments if c.kind == "review"])

    def request_reviewers(self, request: Request, body: bytes, owner: str, repo: str, index: int) -> Response:
        data = self._body(request, self.request_reviewers, body)
        r = self._repo(owner, repo)
        pr = self.pr(r.full_name, index)
        created = []
        for login in data.get("reviewers") or []:
            user = self.user(login)
            if user not in pr.requested_reviewers:
                pr.requested_reviewers.append(user)
            review = FakeComment(
                id=self.next_id(),
                author=user,
                body="",
                created_at=pr.updated_at,
                kind="request",
                state="REQUEST_REVIEW",
                commit_id=r.head_sha(pr),
            )
            created.append(self.review_json(r, pr, review))
        return JSONResponse(created, status_code=201)

    def list_comments(self, request: Request, body: bytes, owner: str, repo: str, index: int) -> Response:
        r = self._repo(owner, repo)
        pr = self.pr(r.full_name, index)
        return JSONResponse([self.comment_json(r, pr, c) for c in pr.comments if c.kind == "comment"])

    def create_comment(self, request: Request, body: bytes, owner: str, repo: str, index: int) -> Response:
        data = self._body(request, self.create_comment, body)
        r = self._repo(owner, repo)
        pr = self.pr(r.full_name, index)
        comment = FakeComment(id=self.next_id(), author=self.bot, body=data["body"], created_at=now())
        pr.comments.append(comment)
        return JSONResponse(self.comment_json(r, pr, comment), status_code=201)

    def combined_status(self, request: Request, body: bytes, owner: str, repo: str, ref: str) -> Response:
        """The newest status of each context, a page of them (`page`, `limit`) as Gitea's
        GetCombinedCommitStatusByRef pages them: the count of all contexts goes in X-Total-Count, with no
        Link header, and `state` and `total_count` describe only the page."""
        r = self._repo(owner, repo)
        if not r.bare.has(ref):
            raise ApiError(404, "The target couldn't be found.")
        sha = r.bare.rev(ref)
        latest: dict[str, dict[str, Any]] = {}
        for s in r.statuses.get(sha, []):
            latest[s["context"]] = s
        statuses = [
            {
                "id": s["id"],
                "status": s["state"],
                "target_url": s["url"] or "",
                "description": "",
                "url": f"{self.api_url}/repos/{r.full_name}/statuses/{sha}",
                "context": s["context"],
                "creator": self.user_json(self.bot),
                "created_at": iso(s["at"]),
                "updated_at": iso(s["at"]),
            }
            for s in self._page_of(request, list(latest.values()))[0]
        ]
        order = ["error", "failure", "warning", "pending", "success", "skipped"]
        state = min((s["status"] for s in statuses), key=order.index, default="")
        payload: dict[str, Any] = {
            "state": state or "pending",
            "sha": sha,
            "total_count": len(statuses),
            "statuses": statuses,
            "repository": self.repo_json(r),
            "commit_url": f"{self.api_url}/repos/{r.full_name}/commits/{sha}",
            "url": f"{self.api_url}/repos/{r.full_name}/commits/{sha}/status",
        }
        return JSONResponse(payload, headers={"X-Total-Count": str(len(latest))})

    def compare(self, request: Request, body: bytes, owner: str, repo: str, basehead: str) -> Response:
        r = self._repo(owner, repo)
        base, sep, head = basehead.partition("...")
        if not sep or not r.bare.has(base) or not r.bare.has(head):
            raise ApiError(404, "The target couldn't be found.")
        shas = r.bare.commits_between(r.bare.rev(base), r.bare.rev(head))
        commits = [
            {
                "url": f"{self.api_url}/repos/{r.full_name}/git/commits/{s}",
                "sha": s,
                "html_url": f"{self.url}/{r.full_name}/commit/{s}",
                "created": None,
            }
            for s in shas
        ]
        return JSONResponse({"total_commits": len(shas), "commits": commits})
