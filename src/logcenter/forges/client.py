"""The shared half of every forge client: `ForgeClient` holds the HTTP session, the paging loop and the
pull-request flows that are the same on every forge; `PullsClient` (pulls.py) adds the GitHub REST shape
that Gitea copies (/repos/{owner}/{name}/pulls, issue comments, reviews, compare).

Why one place: "open the PR, or find the open one", "merge only at the reviewed head, and a race with a merge
elsewhere is success" and "list every page" must mean the same on every forge. A forge module names what
differs: its paths, payload field names, auth header and the way it pages, and overrides a flow only where
its forge really works otherwise (GitLab's diffs and approvals, say).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

import httpx

from logcenter.forges.base import (
    ChangedFile,
    Check,
    CommitChecks,
    ForgeConfig,
    ForgeConflict,
    ForgeError,
    ForgeKind,
    MergeStyle,
    PRComment,
    PullRequest,
    RepoInfo,
    combine_checks,
    refuse_unmergeable,
)
from logcenter.forges.http import ForgeHTTP

# Pages of one listing at most (of 30-100 items): far more than a pull request's files, comments or checks.
MAX_PAGES = 100


class ForgeClient(ABC):
    """The part of a `Forge` that is the same on every forge: the HTTP session, the paging loop and the
    pull-request flows (open or find the open one, read, merge at the reviewed head, close, comment).

    A subclass names its forge's paths, payload fields, auth header and paging, and overrides a flow only
    where its forge really works differently."""

    kind: ForgeKind  # set by each subclass
    AUTH_SCHEME: ClassVar[str] = "Bearer"  # Authorization: <scheme> <token>
    HEADERS: ClassVar[dict[str, str]] = {"Accept": "application/json"}
    PAGE: ClassVar[int] = 100  # items asked for per page
    PR: ClassVar[str] = "PR"  # what the forge calls a pull request, in call names and errors
    PR_SIGN: ClassVar[str] = "#"  # PR #7, MR !7
    PR_LONG: ClassVar[str] = "PR"
    PULLS: ClassVar[str] = "pulls"  # the collection of pull requests below the repository path
    REPO: ClassVar[str] = "repository"
    REPO_FIELDS: ClassVar[tuple[str, str, str]] = ("full_name", "clone_url", "html_url")  # name, clone, page
    PR_EXISTS: ClassVar[int] = 409  # the answer to opening a PR whose branches have an open one
    CLOSE: ClassVar[tuple[str, dict[str, str]]] = ("PATCH", {"state": "closed"})  # method, body
    CLOSE_REFUSED: ClassVar[tuple[int, ...]] = ()  # statuses that may mean "merged meanwhile: cannot close"

    repo_path: str  # the repository's API path: /repos/acme/app, /projects/group%2Fapp

    def __init__(self, config: ForgeConfig, **http_options: Any) -> None:
        self.config = config
        self.http = ForgeHTTP(
            self.kind.value,
            config.api_url,
            token=config.token,
            auth_headers={"Authorization": f"{self.AUTH_SCHEME} {config.token}"},
            headers=self.HEADERS,
            timeout=config.timeout,
            max_retries=config.max_retries,
            **http_options,
        )

    def close(self) -> None:
        self.http.close()

    # ---- what each forge says its own way ------------------------------------------------------------------
    @abstractmethod
    def pull_request(self, data: dict[str, Any]) -> PullRequest:
        """A PullRequest from the forge's API answer."""

    @abstractmethod
    def _new_pull_request(self, *, head: str, base: str, title: str, body: str) -> dict[str, Any]:
        """The body that opens a PR."""

    @abstractmethod
    def _open_pull_request(self, call: str, *, head: str, base: str) -> PullRequest | None:
        """The open PR from `head` into `base`, asked for after the forge refused to open a second one."""

    @abstractmethod
    def _merge(
        self, number: int, call: str, *, style: MergeStyle, expected_head_sha: str | None, message: str | None
    ) -> httpx.Response:
        """Ask the forge to merge (200 when it did; a refusal is an expected status, not an error)."""

    @abstractmethod
    def _comments_path(self, number: int) -> str: ...

    @abstractmethod
    def _checks(self, sha: str) -> list[Check]:
        """What CI said about the commit, one Check per status or check run."""

    @abstractmethod
    def _comment(self, data: dict[str, Any], number: int) -> PRComment: ...

    def _page_params(self, page: int) -> dict[str, Any]:
        return {"per_page": self.PAGE, "page": page}

    def _last_page(self, response: httpx.Response, count: int, seen: int) -> bool:
        """Whether the page just read (`count` items, `seen` so far) is the last one; here, when it is
        short."""
        return count < self.PAGE

    # what each forge does its own way, as a whole
    @abstractmethod
    def pull_request_files(self, number: int) -> list[ChangedFile]: ...

    @abstractmethod
    def pull_request_diff(self, number: int) -> str: ...

    @abstractmethod
    def list_comments(self, number: int) -> list[PRComment]: ...

    @abstractmethod
    def request_reviewers(self, number: int, reviewers: list[str]) -> None: ...

    @abstractmethod
    def contains_commit(self, commit: str, *, in_commit: str) -> bool: ...

    # ---- the shared flows ----------------------------------------------------------------------------------
    def _name(self, number: int) -> str:
        return f"{self.PR} {self.PR_SIGN}{number}"

    def _pr_path(self, number: int) -> str:
        return f"{self.repo_path}/{self.PULLS}/{number}"

    def _paged(
        self, call: str, path: str, params: dict[str, Any] | None = None, *, key: str | None = None
    ) -> list[dict[str, Any]]:
        """Every item of a listing, page after page; `key` names the list in an answer that is an object
        (a combined status's `statuses`, GitHub's `check_runs`)."""
        items: list[dict[str, Any]] = []
        page = 1
        while True:
            response = self.http.request(
                call, "GET", path, params={**(params or {}), **self._page_params(page)}
            )
            batch = self._answer(call, response, list if key is None else dict, "a listing")
            if key is not None:
                batch = batch.get(key) or []
                if not isinstance(batch, list):
                    raise self._unexpected(call, response, "a listing")
            items.extend(batch)
            if not batch or self._last_page(response, len(batch), len(items)):
                return items
            if page == MAX_PAGES:  # a server that ignores `page` would answer the same full page for ever
                raise ForgeError(self.kind.value, call, response.status_code, f"more than {MAX_PAGES} pages")
            page += 1

    def _answer(self, call: str, response: httpx.Response, shape: type, what: str) -> Any:
        """The JSON of a 2xx answer, when it has the shape asked for (a 200 from a proxy or a broken forge
        may carry anything); otherwise a ForgeError naming the call."""
        try:
            data = response.json()
        except ValueError:
            raise self._unexpected(call, response, what) from None
        if data is None and shape is list:
            return []
        if not isinstance(data, shape):
            raise self._unexpected(call, response, what)
        return data

    def _unexpected(self, call: str, response: httpx.Response, what: str) -> ForgeError:
        return ForgeError(self.kind.value, call, response.status_code, f"the answer is not {what}")

    def _pull(self, call: str, response: httpx.Response) -> PullRequest:
        """The PR in an answer, or a ForgeError when the answer is not one."""
        what = f"a {self.PR_LONG}"
        try:
            return self.pull_request(self._answer(call, response, dict, what))
        except (KeyError, TypeError, ValueError):
            raise self._unexpected(call, response, what) from None

    def repo_info(self) -> RepoInfo:
        data = self.http.request(f"get {self.REPO}", "GET", self.repo_path).json()
        name, clone, page = self.REPO_FIELDS
        return RepoInfo(
            full_name=data[name],
            default_branch=data.get("default_branch") or "main",
            clone_url=data.get(clone) or "",
            html_url=data.get(page) or "",
        )

    def create_pull_request(self, *, head: str, base: str, title: str, body: str) -> PullRequest:
        call = f"create {self.PR} {head} → {base}"
        response = self.http.request(
            call,
            "POST",
            f"{self.repo_path}/{self.PULLS}",
            json=self._new_pull_request(head=head, base=base, title=title, body=body),
            expect=(201, self.PR_EXISTS),
        )
        if response.status_code == 201:
            return self._pull(call, response)
        existing = self._open_pull_request(call, head=head, base=base)
        if existing is None:
            raise self.http.error(call, response)
        return existing

    def get_pull_request(self, number: int) -> PullRequest:
        call = f"get {self._name(number)}"
        return self._pull(call, self.http.request(call, "GET", self._pr_path(number)))

    def merge_pull_request(
        self, number: int, *, style: MergeStyle, expected_head_sha: str | None, message: str | None = None
    ) -> PullRequest:
        call = f"merge {self._name(number)}"
        current = self.get_pull_request(number)
        if current.merged:
            return current
        refuse_unmergeable(
            self.kind.value,
            call,
            current,
            expected_head_sha,
            closed=f"the {self.PR_LONG} is closed",
            moved=f"the {self.PR}",
        )
        response = self._merge(
            number, call, style=style, expected_head_sha=expected_head_sha, message=message
        )
        # a refusal may be a race with a merge elsewhere ("already merged"): that is success too; a 200 that
        # left the PR unmerged is not
        after = (
            self._merged(number, call, response)
            if response.status_code == 200
            else self.get_pull_request(number)
        )
        if after.merged:
            return after
        raise self.http.error(call, response, ForgeConflict)

    def _merged(self, number: int, call: str, response: httpx.Response) -> PullRequest:
        """The PR after a merge call that answered 200 (most forges answer without the PR: read it)."""
        return self.get_pull_request(number)

    def close_pull_request(self, number: int) -> PullRequest:
        call = f"close {self._name(number)}"
        method, body = self.CLOSE
        response = self.http.request(
            call, method, self._pr_path(number), json=body, expect=(200, 201, *self.CLOSE_REFUSED)
        )
        if response.status_code in self.CLOSE_REFUSED:
            closed = self.get_pull_request(number)  # GitHub's 422 does not say why: the PR does
            if not closed.merged:
                raise self.http.error(call, response)
        else:
            closed = self._pull(call, response)
        if closed.merged:
            # GitLab answers closing a merged MR with the merged MR; Gitea (412) and GitHub (422) refuse: all
            # say "merged meanwhile", which a reject must not take for a closed PR
            raise ForgeConflict(
                self.kind.value,
                call,
                response.status_code,
                f"the {self.PR_LONG} is merged: it cannot be closed",
            )
        return closed

    def commit_checks(self, sha: str) -> CommitChecks:
        return combine_checks(sha, self._checks(sha))

    def comment(self, number: int, body: str) -> PRComment:
        data = self.http.request(
            f"comment on {self._name(number)}",
            "POST",
            self._comments_path(number),
            json={"body": body},
            expect=(201,),
            repeatable=False,
        ).json()
        return self._comment(data, number)
