"""A fake GitLab REST API v4 and its webhooks, from shared/forge-contracts/gitlab and GitLab's API docs.

GitLab addresses a project by its URL-encoded path (`group%2Fsub%2Fapp`); the ASGI wrapper below takes the
project from the raw path, because the decoded one has lost the difference between `%2F` and `/`.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from tests.forgefake.core import (
    ApiError,
    FakeComment,
    FakePR,
    FakeRepo,
    FakeUser,
    Handler,
    iso,
    now,
)
from tests.forgefake.git import GitError, git
from tests.forgefake.gitlab_hooks import GitLabHooks

PROJECT = "/projects/_"


def _params(request: Request, body: bytes) -> dict[str, Any]:
    """GitLab takes parameters as JSON, form or query alike."""
    if body and request.headers.get("content-type", "").startswith("application/json"):
        try:
            data = json.loads(body)
        except ValueError:
            raise ApiError(400, "400 Bad request - invalid JSON") from None
        if not isinstance(data, dict):
            raise ApiError(400, "400 Bad request")
        return {**dict(request.query_params), **data}
    return dict(request.query_params)


class FakeGitLab(GitLabHooks):
    kind = "gitlab"
    api_prefix = "/api/v4"
    HOOK_ACTIONS = {"opened": "open", "merged": "merge", "closed": "close", "reopened": "reopen"}

    def state(self, pr: FakePR) -> str:
        return "merged" if pr.merged else "opened" if pr.state == "open" else "closed"

    def user_json(self, user: FakeUser) -> dict[str, Any]:
        return {
            "id": user.id,
            "username": user.login,
            "name": user.login,
            "state": "active",
            "locked": False,
            "avatar_url": None,
            "web_url": f"{self.url}/{user.login}",
        }

    def project_json(self, repo: FakeRepo) -> dict[str, Any]:
        web = f"{self.url}/{repo.full_name}"
        return {
            "id": repo.id,
            "name": repo.name,
            "path": repo.name,
            "path_with_namespace": repo.full_name,
            "name_with_namespace": repo.full_name.replace("/", " / "),
            "default_branch": repo.default_branch,
            "web_url": web,
            "http_url_to_repo": repo.bare.url,
            "ssh_url_to_repo": f"git@127.0.0.1:{repo.full_name}.git",
            "visibility": "private",
            "merge_method": "merge",
            "squash_option": "default_off",
        }

    def mr_json(self, repo: FakeRepo, pr: FakePR) -> dict[str, Any]:
        head_sha = repo.head_sha(pr)
        base_sha = repo.bare.rev(f"refs/heads/{pr.base}")
        state = self.state(pr)
        mergeable = state == "opened" and repo.bare.can_merge(base_sha, head_sha)
        return {
            "id": pr.id,
            "iid": pr.number,
            "project_id": repo.id,
            "title": pr.title,
            "description": pr.body,
            "state": state,
            "created_at": iso(pr.created_at),
            "updated_at": iso(pr.updated_at),
            "merged_by": self.user_json(pr.merged_by) if pr.merged_by else None,
            "merge_user": self.user_json(pr.merged_by) if pr.merged_by else None,
            "merged_at": iso(pr.merged_at),
            "closed_by": None,
            "closed_at": iso(pr.closed_at),
            "target_branch": pr.base,
            "source_branch": pr.head,
            "author": self.user_json(pr.author),
            "assignees": [],
            "reviewers": [self.user_json(u) for u in pr.requested_reviewers],
            "source_project_id": repo.id,
            "target_project_id": repo.id,
            "labels": [],
            "draft": False,
            "merge_when_pipeline_succeeds": False,
            "merge_status": "can_be_merged" if mergeable or state != "opened" else "cannot_be_merged",
            "detailed_merge_status": "mergeable"
            if mergeable
            else "not_open"
            if state != "opened"
            else "conflict",
            "sha": head_sha,
            "merge_commit_sha": pr.merge_commit if pr.merged and pr.merge_commit != head_sha else None,
            "squash_commit_sha": None,
            "squash": False,
            "user_notes_count": len(pr.comments),
            "web_url": f"{self.url}/{repo.full_name}/-/merge_requests/{pr.number}",
            "references": {"short": f"!{pr.number}", "full": f"{repo.full_name}!{pr.number}"},
            "diff_refs": {"base_sha": base_sha, "head_sha": head_sha, "start_sha": base_sha},
            "rebase_in_progress": False,
            "merge_error": None,
            "has_conflicts": not mergeable and state == "opened",
        }

    def note_json(self, c: FakeComment) -> dict[str, Any]:
        return {
            "id": c.id,
            "type": "DiffNote" if c.kind == "review_comment" else None,
            "body": c.body,
            "author": self.user_json(c.author),
            "created_at": iso(c.created_at),
            "updated_at": iso(c.created_at),
            "system": False,
            "noteable_type": "MergeRequest",
            "resolvable": False,
            "internal": False,
        }

    # ---- API --------------------------------------------------------------------------------------------
    def authorized(self, request: Request) -> bool:
        if request.headers.get("private-token") == self.token:
            return True
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        return scheme.lower() == "bearer" and token == self.token

    def error_response(self, error: ApiError) -> Response:
        if "payload" in error.extra:
            return JSONResponse(error.extra["payload"], status_code=error.status)
        message = "401 Unauthorized" if error.status == 401 else error.message
        return JSONResponse({"message": message, **error.extra}, status_code=error.status)

    def asgi(self) -> Any:
        app = self.app()

        async def project_from_raw_path(scope: dict[str, Any], receive: Any, send: Any) -> None:
            if scope["type"] == "http":
                raw = scope.get("raw_path", scope["path"].encode()).decode("latin-1").split("?")[0]
                prefix = self.api_prefix + "/projects/"
                if raw.startswith(prefix):
                    encoded, _, rest = raw[len(prefix) :].partition("/")
                    scope = {
                        **scope,
                        "path": f"{self.api_prefix}{PROJECT}" + ("/" + unquote(rest) if rest else ""),
                        "raw_path": None,
                        "gitlab_project": unquote(encoded),
                    }
            await app(scope, receive, send)

        return project_from_raw_path

    def routes(self) -> list[tuple[str, str, Handler]]:
        mr = PROJECT + "/merge_requests/{iid:int}"
        return [
            ("GET", PROJECT, self.get_project),
            ("GET", PROJECT + "/merge_requests", self.list_mrs),
            ("POST", PROJECT + "/merge_requests", self.create_mr),
            ("GET", mr, self.get_mr),
            ("PUT", mr, self.update_mr),
            ("GET", mr + "/diffs", self.mr_diffs),
            ("PUT", mr + "/merge", self.merge_mr),
            ("PUT", mr + "/rebase", self.rebase_mr),
            ("GET", mr + "/notes", self.list_notes),
            ("POST", mr + "/notes", self.create_note),
            ("GET", mr + "/approvals", self.approvals),
            ("GET", PROJECT + "/repository/commits/{sha}/statuses", self.statuses),
            ("GET", PROJECT + "/repository/merge_base", self.merge_base),
            ("GET", "/users", self.users_by_name),
        ]

    def _project(self, request: Request) -> FakeRepo:
        key = request.scope.get("gitlab_project", "")
        if key.isdigit():
            for repo in self.repos.values():
                if repo.id == int(key):
                    return repo
        if key not in self.repos:
            raise ApiError(404, "404 Project Not Found")
        return self.repos[key]

    def _mr(self, request: Request, iid: int) -> tuple[FakeRepo, FakePR]:
        repo = self._project(request)
        if iid not in repo.prs:
            raise ApiError(404, "404 Not found")
        return repo, repo.prs[iid]

    @staticmethod
    def _page(request: Request, items: list[Any]) -> Response:
        page = int(request.query_params.get("page", 1))
        per_page = min(int(request.query_params.get("per_page", 20)), 100)
        chunk = items[(page - 1) * per_page : page * per_page]
        more = page * per_page < len(items)
        return JSONResponse(
            chunk,
            headers={
                "X-Next-Page": str(page + 1) if more else "",
                "X-Page": str(page),
                "X-Per-Page": str(per_page),
                "X-Total": str(len(items)),
            },
        )

    def get_project(self, request: Request, body: bytes) -> Response:
        return JSONResponse(self.project_json(self._project(request)))

    def list_mrs(self, request: Request, body: bytes) -> Response:
        repo = self._project(request)
        q = request.query_params
        items = [
            self.mr_json(repo, pr)
            for pr in sorted(repo.prs.values(), key=lambda p: p.number, reverse=True)
            if q.get("state", "all") in ("all", self.state(pr))
            and q.get("source_branch", pr.head) == pr.head
            and q.get("target_branch", pr.base) == pr.base
        ]
        return self._page(request, items)

    def create_mr(self, request: Request, body: bytes) -> Response:
        data = _params(request, body)
        repo = self._project(request)
        missing = [f for f in ("source_branch", "target_branch", "title") if not data.get(f)]
        if missing:
            raise ApiError(400, f"{', '.join(missing)} is missing", error=f"{missing[0]} is missing")
        head, base = str(data["source_branch"]), str(data["target_branch"])
        if not repo.bare.has(f"refs/heads/{head}") or not repo.bare.has(f"refs/heads/{base}"):
            raise ApiError(422, "Invalid source or target branch")
        for pr in repo.prs.values():
            if self.state(pr) == "opened" and pr.head == head and pr.base == base:
                raise ApiError(
                    409,
                    "Conflict",
                    payload={
                        "message": [
                            f"Another open merge request already exists for this source branch: !{pr.number}"
                        ]
                    },
                )
        pr = self.create_pr(
            repo,
            head=head,
            base=base,
            title=str(data["title"]),
            body=str(data.get("description") or ""),
            author=self.bot,
        )
        return JSONResponse(self.mr_json(repo, pr), status_code=201)

    def get_mr(self, request: Request, body: bytes, iid: int) -> Response:
        repo, pr = self._mr(request, iid)
        return JSONResponse(self.mr_json(repo, pr))

    def update_mr(self, request: Request, body: bytes, iid: int) -> Response:
        data = _params(request, body)
        repo, pr = self._mr(request, iid)
        event = data.get("state_event")
        if event not in (None, "close", "reopen"):
            raise ApiError(
                400,
                "state_event does not have a valid value",
                error="state_event does not have a valid value",
            )
        if event == "close" and self.state(pr) == "opened":
            self.close_pr(repo.full_name, iid)
        elif event == "reopen" and self.state(pr) == "closed":
            self.reopen_pr(repo.full_name, iid)
        if "reviewer_ids" in data:
            by_id = {u.id: u for u in self.users.values()}
            ids = data["reviewer_ids"] if isinstance(data["reviewer_ids"], list) else [data["reviewer_ids"]]
            pr.requested_reviewers = [by_id[int(i)] for i in ids if int(i) in by_id]
        if data.get("title"):
            pr.title = str(data["title"])
        pr.updated_at = now()
        return JSONResponse(self.mr_json(repo, pr))

    def mr_diffs(self, request: Request, body: bytes, iid: int) -> Response:
        repo, pr = self._mr(request, iid)
        base = repo.diff_base(pr)
        head = repo.head_sha(pr)
        diffs = []
        for name, status, _, _ in repo.bare.numstat(base, head):
            full = _file_diff(repo, base, head, name)
            hunks = full[full.index("@@") :] if "@@" in full else ""
            diffs.append(
                {
                    "old_path": name,
                    "new_path": name,
                    "a_mode": "100644",
                    "b_mode": "100644",
                    "new_file": status == "added",
                    "renamed_file": status == "renamed",
                    "deleted_file": status == "deleted",
                    "generated_file": False,
                    "diff": hunks,
                }
            )
        return self._page(request, diffs)

    def merge_mr(self, request: Request, body: bytes, iid: int) -> Response:
        data = _params(request, body)
        repo, pr = self._mr(request, iid)
        if self.state(pr) != "opened":
            raise ApiError(405, "405 Method Not Allowed")
        if data.get("sha") and data["sha"] != repo.head_sha(pr):
            raise ApiError(409, "SHA does not match HEAD of source branch: " + repo.head_sha(pr))
        if not repo.bare.can_merge(f"refs/heads/{pr.base}", f"refs/heads/{pr.head}"):
            raise ApiError(422, "Branch cannot be merged")
        squash = data.get("squash") in (True, "true", "1")
        default = (
            f"Merge branch '{pr.head}' into '{pr.base}'\n\n{pr.title}\n\n"
            f"See merge request {repo.full_name}!{pr.number}"
        )
        key = "squash_commit_message" if squash else "merge_commit_message"
        try:
            self.merge_pr(
                repo.full_name,
                iid,
                style="squash" if squash else "merge",
                message=str(data.get(key) or default),
            )
        except GitError as exc:
            raise ApiError(422, f"Branch cannot be merged: {exc}") from None
        result = self.mr_json(repo, pr)
        if squash:
            result["squash_commit_sha"], result["squash"] = pr.merge_commit, True
        return JSONResponse(result)

    def rebase_mr(self, request: Request, body: bytes, iid: int) -> Response:
        """Rebases the source branch at once (GitLab does it in the background; the fake is done before the
        client polls)."""
        repo, pr = self._mr(request, iid)
        if self.state(pr) != "opened":
            raise ApiError(403, "403 Forbidden")
        with tempfile.TemporaryDirectory(prefix="fakeforge-rebase-") as tmp:
            work = Path(tmp) / "w"
            git(tmp, "clone", "--quiet", "--branch", pr.head, repo.bare.url, str(work))
            try:
                git(work, "rebase", "--quiet", f"origin/{pr.base}")
            except GitError:
                raise ApiError(409, "Rebase failed: conflicts") from None
            git(work, "push", "--quiet", "--force", "origin", f"HEAD:refs/heads/{pr.head}")
        return JSONResponse({"rebase_in_progress": True}, status_code=202)

    def list_notes(self, request: Request, body: bytes, iid: int) -> Response:
        _, pr = self._mr(request, iid)
        notes = [self.note_json(c) for c in pr.comments if c.kind in ("comment", "review_comment")]
        if request.query_params.get("sort", "desc") == "desc":
            notes.reverse()
        return self._page(request, notes)

    def create_note(self, request: Request, body: bytes, iid: int) -> Response:
        data = _params(request, body)
        _, pr = self._mr(request, iid)
        if not data.get("body"):
            raise ApiError(400, "body is missing", error="body is missing")
        c = FakeComment(id=self.next_id(), author=self.bot, body=str(data["body"]), created_at=now())
        pr.comments.append(c)
        return JSONResponse(self.note_json(c), status_code=201)

    def approvals(self, request: Request, body: bytes, iid: int) -> Response:
        repo, pr = self._mr(request, iid)
        approved = [c for c in pr.comments if c.kind == "review" and c.state == "APPROVED"]
        return JSONResponse(
            {
                "id": pr.id,
                "iid": pr.number,
                "project_id": repo.id,
                "approved": bool(approved),
                "approved_by": [{"user": self.user_json(c.author)} for c in approved],
            }
        )

    def statuses(self, request: Request, body: bytes, sha: str) -> Response:
        repo = self._project(request)
        if not repo.bare.has(sha):
            raise ApiError(404, "404 Commit Not Found")
        full = repo.bare.rev(sha)
        items = [
            {
                "id": s["id"],
                "sha": full,
                "ref": None,
                "status": s["state"],
                "name": s["context"],
                "target_url": s["url"],
                "description": None,
                "created_at": iso(s["at"]),
                "allow_failure": False,
                "author": self.user_json(self.bot),
            }
            for s in reversed(repo.statuses.get(full, []))
        ]
        return self._page(request, items)

    def merge_base(self, request: Request, body: bytes) -> Response:
        repo = self._project(request)
        refs = request.query_params.getlist("refs[]")
        if len(refs) < 2:
            raise ApiError(400, "Provide at least 2 refs")
        for ref in refs:
            if not repo.bare.has(ref):
                raise ApiError(400, f"Could not find ref: {ref}")
        base = repo.bare.merge_base(*(repo.bare.rev(r) for r in refs[:2]))
        return JSONResponse({"id": base, "short_id": base[:8], "title": "", "parent_ids": []})

    def users_by_name(self, request: Request, body: bytes) -> Response:
        name = request.query_params.get("username", "")
        return JSONResponse([self.user_json(self.users[name])] if name in self.users else [])


def _file_diff(repo: FakeRepo, base: str, head: str, name: str) -> str:
    return git(repo.bare.path, "diff", "--no-color", f"{base}...{head}", "--", name) + "\n"
