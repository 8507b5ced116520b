"""What the three fake forges share: repositories and PRs backed by bare git repos, recorded requests,
injected faults (500, 429 with Retry-After, an outage), and a uvicorn server in a thread.

Each forge module (gitea.py, github.py, gitlab.py) adds its API routes, its JSON shapes and its webhooks on
top of `FakeForge`. Tests drive the fake from Python (open a PR, push to it, merge it "on the forge", add a
review) and assert on `requests` and on the bare repository.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import secrets
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.forgefake.git import BareRepo, commit_files, init_bare
from tests.ports import free_port

Handler = Callable[..., Response]


def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def iso(value: datetime | None) -> str | None:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ") if value else None


@dataclass
class FakeUser:
    id: int
    login: str

    @property
    def email(self) -> str:
        return f"{self.login}@example.invalid"


@dataclass
class FakeComment:
    id: int
    author: FakeUser
    body: str
    created_at: datetime
    kind: str = "comment"  # comment / review / review_comment
    state: str | None = None  # reviews: APPROVED / REQUEST_CHANGES / COMMENT
    commit_id: str | None = None


@dataclass
class FakePR:
    id: int
    number: int
    head: str
    base: str
    title: str
    body: str
    author: FakeUser
    created_at: datetime
    updated_at: datetime
    state: str = "open"  # open / closed (merged PRs are closed with merged=True)
    merged: bool = False
    merge_commit: str | None = None
    merged_by: FakeUser | None = None
    merged_at: datetime | None = None
    closed_at: datetime | None = None
    closed_head_sha: str | None = None  # the head when closed or merged (the branch may move or vanish later)
    merged_base: str | None = (
        None  # the base branch's tip just before the merge (the PR's diff stays the same)
    )
    comments: list[FakeComment] = field(default_factory=list)
    requested_reviewers: list[FakeUser] = field(default_factory=list)


@dataclass
class FakeRepo:
    id: int
    full_name: str
    bare: BareRepo
    owner: FakeUser
    prs: dict[int, FakePR] = field(default_factory=dict)
    statuses: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # sha → [{context, state, ...}]

    @property
    def name(self) -> str:
        return self.full_name.rsplit("/", 1)[-1]

    @property
    def default_branch(self) -> str:
        head = (self.bare.path / "HEAD").read_text().strip()
        return head.removeprefix("ref: refs/heads/")

    def diff_base(self, pr: FakePR) -> str:
        """What the PR's diff and files are computed against: the base tip (or, once merged, the tip
        before)."""
        return pr.merged_base if pr.merged and pr.merged_base else self.bare.rev(f"refs/heads/{pr.base}")

    def head_sha(self, pr: FakePR) -> str:
        if pr.closed_head_sha and (pr.merged or not self.bare.has(f"refs/heads/{pr.head}")):
            return pr.closed_head_sha
        return self.bare.rev(f"refs/heads/{pr.head}")


@dataclass
class Recorded:
    """One request the fake received, for assertions."""

    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


@dataclass
class Fault:
    status: int
    retry_after: str | None
    path_contains: str | None
    body: Any
    times: int
    location: str | None = None


@dataclass
class Hook:
    """A webhook configured on the fake forge."""

    url: str
    secret: str | None
    sent: list[tuple[Any, int | str]] = field(default_factory=list)

    def deliver(self, delivery: Any) -> None:
        try:
            status: int | str = delivery.post(self.url).status_code
        except Exception as exc:  # noqa: BLE001 - a forge records a failed delivery and goes on
            status = f"{type(exc).__name__}: {exc}"
        self.sent.append((delivery, status))


class _Server(uvicorn.Server):
    def install_signal_handlers(self) -> None:  # runs in a thread: leave the test runner's signals alone
        pass


class ApiError(Exception):
    """Raised by a handler to answer with the forge's own error shape."""

    def __init__(self, status: int, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status, self.message, self.extra = status, message, extra


class FakeForge:
    """A fake forge API on a free port, backed by bare git repositories under `root`."""

    kind = "base"
    api_prefix = ""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.token = "fk_" + secrets.token_hex(16)
        self.lock = threading.RLock()
        self.repos: dict[str, FakeRepo] = {}
        self.users: dict[str, FakeUser] = {}
        self.requests: list[Recorded] = []
        self.faults: list[Fault] = []
        self.contract_errors: list[str] = []
        self._ids = 0
        self.bot = self.user("logcenter-bot")
        # GitHub's author_association of people who comment (default MEMBER): a test makes a stranger NONE.
        self.associations: dict[str, str] = {}
        self.port = free_port()
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._clients: list[Any] = []
        self.hooks: list[Hook] = []
        self._senders: list[threading.Thread] = []

    # ---- addresses -----------------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        """The forge's web root (what a browser opens)."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_url(self) -> str:
        """What `make_forge` takes as `api_url`."""
        return self.url + self.api_prefix

    # ---- state ---------------------------------------------------------------------------------------------
    def next_id(self) -> int:
        self._ids += 1
        return self._ids

    def user(self, login: str) -> FakeUser:
        with self.lock:
            if login not in self.users:
                self.users[login] = FakeUser(id=self.next_id(), login=login)
            return self.users[login]

    def add_repo(
        self, full_name: str, files: dict[str, str] | None = None, *, bare: BareRepo | None = None
    ) -> FakeRepo:
        """A repository on the forge: `bare` when given (say, the origin a test already built), else a new
        bare repo holding `files` (default: the sample Python app)."""
        with self.lock:
            if bare is None:
                slug = hashlib.sha1(full_name.encode()).hexdigest()[:10]
                bare = init_bare(self.root / f"{slug}.git", files)
            owner = self.user(full_name.split("/", 1)[0])
            repo = FakeRepo(id=self.next_id(), full_name=full_name, bare=bare, owner=owner)
            self.repos[full_name] = repo
            return repo

    def repo(self, full_name: str) -> FakeRepo:
        if full_name not in self.repos:
            raise ApiError(404, "The target couldn't be found.")
        return self.repos[full_name]

    def pr(self, full_name: str, number: int) -> FakePR:
        repo = self.repo(full_name)
        if number not in repo.prs:
            raise ApiError(404, "The target couldn't be found.")
        return repo.prs[number]

    def push(self, full_name: str, branch: str, files: dict[str, str | None], message: str = "Change") -> str:
        """Commit and push to `branch` of the repo (creating it from the default branch), as a developer
        would."""
        repo = self.repos[full_name]
        with self.lock:
            return commit_files(repo.bare, branch, files, message)

    def open_pr(
        self,
        full_name: str,
        head: str,
        *,
        base: str | None = None,
        title: str = "Fix a bug",
        body: str = "",
        author: str | None = None,
        files: dict[str, str | None] | None = None,
    ) -> FakePR:
        """Open a PR from `head` (pushing `files` to it first when given) as `author` (default: the bot)."""
        repo = self.repos[full_name]
        if files:
            self.push(full_name, head, files, title)
        return self.create_pr(
            repo,
            head=head,
            base=base or repo.default_branch,
            title=title,
            body=body,
            author=self.user(author) if author else self.bot,
        )

    def create_pr(
        self, repo: FakeRepo, *, head: str, base: str, title: str, body: str, author: FakeUser
    ) -> FakePR:
        with self.lock:
            number = max(repo.prs, default=0) + 1
            stamp = now()
            pr = FakePR(
                id=self.next_id(),
                number=number,
                head=head,
                base=base,
                title=title,
                body=body,
                author=author,
                created_at=stamp,
                updated_at=stamp,
            )
            repo.prs[number] = pr
        self.emit(repo.full_name, number, "opened")
        return pr

    def merge_pr(
        self,
        full_name: str,
        number: int,
        *,
        style: str = "merge",
        by: str | None = None,
        message: str | None = None,
    ) -> FakePR:
        """Merge with git (as the forge's merge button does) and mark the PR merged."""
        repo, pr = self.repos[full_name], self.pr(full_name, number)
        merger = self.user(by) if by else self.bot
        with self.lock:
            head_sha = repo.head_sha(pr)
            pr.merged_base = repo.bare.rev(f"refs/heads/{pr.base}")
            text = message or f"Merge pull request '{pr.title}' (#{pr.number}) from {pr.head} into {pr.base}"
            pr.merge_commit = repo.bare.merge(
                pr.base, pr.head, style=style, message=text, author=merger.login
            )
            stamp = now()
            pr.merged, pr.state, pr.merged_by = True, "closed", merger
            pr.merged_at = pr.closed_at = pr.updated_at = stamp
            pr.closed_head_sha = head_sha
        self.emit(full_name, number, "merged")
        return pr

    def close_pr(self, full_name: str, number: int) -> FakePR:
        repo, pr = self.repos[full_name], self.pr(full_name, number)
        with self.lock:
            pr.closed_head_sha = repo.head_sha(pr)
            pr.state, pr.closed_at, pr.updated_at = "closed", now(), now()
        self.emit(full_name, number, "closed")
        return pr

    def reopen_pr(self, full_name: str, number: int) -> FakePR:
        pr = self.pr(full_name, number)
        with self.lock:
            pr.state, pr.closed_at, pr.closed_head_sha, pr.updated_at = "open", None, None, now()
        self.emit(full_name, number, "reopened")
        return pr

    def add_comment(
        self,
        full_name: str,
        number: int,
        body: str,
        *,
        author: str = "reviewer",
        kind: str = "comment",
        state: str | None = None,
    ) -> FakeComment:
        """A comment (or a review with `kind="review"` and a `state`) made on the forge by a person."""
        pr = self.pr(full_name, number)
        with self.lock:
            comment = FakeComment(
                id=self.next_id(),
                author=self.user(author),
                body=body,
                created_at=now(),
                kind=kind,
                state=state,
                commit_id=self.repos[full_name].head_sha(pr),
            )
            pr.comments.append(comment)
            return comment

    def set_status(
        self, full_name: str, sha: str, context: str, state: str, *, url: str | None = None
    ) -> None:
        """A CI status on a commit, in this forge's vocabulary (Gitea/GitHub: success/pending/failure/error;
        GitLab: success/running/pending/failed/canceled...)."""
        with self.lock:
            entries = self.repos[full_name].statuses.setdefault(sha, [])
            entries.append(
                {"id": self.next_id(), "context": context, "state": state, "url": url, "at": now()}
            )

    # ---- webhooks the forge sends by itself --------------------------------------------------------------
    HOOK_ACTIONS = {"opened": "opened", "merged": "closed", "closed": "closed", "reopened": "reopened"}

    def webhook(self, full_name: str, number: int, action: str, *, secret: str | None, **kw: Any) -> Any:
        raise NotImplementedError

    def add_hook(self, url: str, secret: str | None = None) -> Hook:
        """Deliver PR webhooks to `url` from now on, as a configured forge does: when a PR is opened, merged,
        closed or reopened (through the API or by a test acting as a person), in a background thread, after
        the change. `hook.sent` lists (delivery, answer status or error)."""
        hook = Hook(url=url, secret=secret)
        self.hooks.append(hook)
        return hook

    def emit(self, full_name: str, number: int, change: str) -> None:
        for hook in self.hooks:
            delivery = self.webhook(full_name, number, self.HOOK_ACTIONS[change], secret=hook.secret)
            sender = threading.Thread(target=hook.deliver, args=(delivery,), daemon=True)
            self._senders.append(sender)
            sender.start()

    def wait_for_deliveries(self, timeout: float = 30) -> None:
        """Wait until every webhook sent so far has been answered (or has failed)."""
        for sender in list(self._senders):
            sender.join(timeout)

    # ---- faults --------------------------------------------------------------------------------------------
    def fail_next(
        self,
        status: int = 500,
        *,
        times: int = 1,
        retry_after: str | int | None = None,
        path_contains: str | None = None,
        message: str = "fake forge failure",
        location: str | None = None,
        body: Any = None,
    ) -> None:
        """Answer the next `times` requests (matching `path_contains`) with `status`, before any handler
        runs; with `location`, a redirect there (say `fail_next(301, location=...)`, a moved repository);
        with `body`, that JSON instead of `{"message": message}` (say a 200 that is not what was asked)."""
        with self.lock:
            self.faults.append(
                Fault(
                    status,
                    None if retry_after is None else str(retry_after),
                    path_contains,
                    {"message": message} if body is None else body,
                    times,
                    location,
                )
            )

    @contextlib.contextmanager
    def outage(self) -> Iterator[None]:
        """The forge is down (connection refused) inside the block, and back on the same port after it."""
        self.stop()
        try:
            yield
        finally:
            self.start()

    # ---- for tests ---------------------------------------------------------------------------------------
    @property
    def default_repo(self) -> str:
        """The first repository added (the fixtures add one)."""
        return next(iter(self.repos))

    def client(self, repo: str | None = None, *, token: str | None = None, **options: Any) -> Any:
        """A real `logcenter.forges` client for `repo` on this fake, with test-speed retry backoff."""
        from logcenter.forges import make_forge

        options.setdefault("backoff", 0.01)
        forge = make_forge(
            self.kind, self.api_url, token or self.token, repo=repo or self.default_repo, **options
        )
        self._clients.append(forge)
        return forge

    def close_clients(self) -> None:
        """Close the clients made by `client()` (their connections would otherwise outlive the test)."""
        for forge in self._clients:
            forge.close()
        self._clients.clear()

    def calls(self, method: str | None = None, contains: str = "") -> list[Recorded]:
        return [r for r in self.requests if (method is None or r.method == method) and contains in r.path]

    # ---- HTTP ----------------------------------------------------------------------------------------------
    def routes(self) -> list[tuple[str, str, Handler]]:
        """(method, path, handler) triples; handlers take (request, body, **path_params) and return a
        Response."""
        raise NotImplementedError

    def error_response(self, error: ApiError) -> Response:
        return JSONResponse({"message": error.message, **error.extra}, status_code=error.status)

    def authorized(self, request: Request) -> bool:
        raise NotImplementedError

    def check(self, request: Request, handler: Handler, body: bytes, response: Response) -> None:
        """Hook for contract checks (the Gitea fake validates against its swagger)."""

    def _gate(self, request: Request, body: bytes) -> Response | None:
        """Record the request; answer it with an injected fault or a 401 before any handler runs."""
        self.requests.append(
            Recorded(request.method, request.url.path, request.url.query, dict(request.headers), body)
        )
        for fault in self.faults:
            if fault.times > 0 and (not fault.path_contains or fault.path_contains in request.url.path):
                fault.times -= 1
                headers = {"Retry-After": fault.retry_after} if fault.retry_after else {}
                if fault.location:
                    headers["Location"] = fault.location
                return JSONResponse(fault.body, status_code=fault.status, headers=headers)
        if not self.authorized(request):
            return self.error_response(ApiError(401, "token is required"))
        return None

    def _endpoint(self, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            body = await request.body()
            with self.lock:
                early = self._gate(request, body)
                if early is not None:
                    return early
                try:
                    response = handler(request, body, **request.path_params)
                except ApiError as error:
                    response = self.error_response(error)
                self.check(request, handler, body, response)
            return response

        return endpoint

    def app(self) -> Starlette:
        routes = [
            Route(self.api_prefix + path, self._endpoint(h), methods=[m]) for m, path, h in self.routes()
        ]
        return Starlette(routes=routes)

    def asgi(self) -> Any:
        return self.app()

    def start(self) -> None:
        self._server, self._thread = serve(self.asgi(), self.port, name=f"fake-{self.kind}")

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(15)
        self._server = self._thread = None

    def __enter__(self) -> FakeForge:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve(asgi: Any, port: int, *, name: str = "server") -> tuple[uvicorn.Server, threading.Thread]:
    """Serve an ASGI app with uvicorn in a daemon thread on 127.0.0.1:`port`; returns once it listens."""
    server = _Server(uvicorn.Config(asgi, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True, name=name)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError(f"{name} did not start")
        time.sleep(0.01)
    return server, thread


def json_body(body: bytes) -> dict[str, Any]:
    """The request's JSON object, or a 422 in the forge's error shape."""
    try:
        data = json.loads(body or b"{}")
    except ValueError as exc:
        raise ApiError(422, f"invalid JSON body: {exc}") from None
    if not isinstance(data, dict):
        raise ApiError(422, "the body must be a JSON object")
    return data
