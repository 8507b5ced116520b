"""The prepare and checkout steps of a repair: the project's settings (from the server, falling back to the
agent's environment), the fixer, and the worktree on the fix's branch."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from logcenter.agent import fixers, forge
from logcenter.agent.git import GitError, Repository, safe_url
from logcenter.agent.job import Attempt, Failure
from logcenter.agent.masking import Masker
from logcenter.agent.options import AgentSettings
from logcenter.bugs.schemas import BugDetail
from logcenter.projects.schemas import ProjectRead
from logcenter.repair.schemas import ClaimedBug
from logcenter.revisions.schemas import RevisionTask


@dataclass(frozen=True)
class ProjectConfig:
    slug: str
    repo_url: str | None
    local_path: str | None
    test_command: str
    default_branch: str | None
    max_files: int
    max_lines: int
    test_patterns: list[str]
    require_regression_test: bool
    fixer: str
    timeout: float
    max_turns: int
    max_budget_usd: float


def project_config(project: ProjectRead, settings: AgentSettings) -> ProjectConfig:
    """The project's settings from the server, falling back to the agent's environment."""
    where = f"PUT /api/v1/projects/{project.project_id}"
    # A repo_url that came from an error report is the reporter's choice: cloning it would run its tests here
    # and could send the forge token to its host. Only an admin's (the server's confirmed repo_url, the
    # project's local_path, the agent's LOGCENTER_AGENT_REPO_URL) is worked on.
    confirmed = project.repo_url if project.repo_url and project.repo_url_confirmed else None
    repo_url = confirmed or settings.repo_url
    local_path = project.local_path if project.local_path and Path(project.local_path).is_dir() else None
    if not confirmed and not local_path and not settings.repo_url and project.repo_url:
        raise Failure(
            "config_missing",
            f"project {project.project_id!r} has a repo_url ({safe_url(project.repo_url)[:200]}) that came "
            "from an error report, not from an admin: the agent does not work on a repository address a "
            "report chose. An admin must confirm it: set repo_url with "
            f'{where} {{"repo_url": "https://…/repo.git"}} or on the Projects page',
        )
    if not repo_url and not local_path:
        raise Failure(
            "config_missing",
            f"project {project.project_id!r} has no repo_url (nor a local_path on this machine): set it with "
            f'{where} {{"repo_url": "https://…/repo.git"}} or LOGCENTER_AGENT_REPO_URL on the agent',
        )
    test_command = project.test_command or settings.test_command
    if not test_command:
        raise Failure(
            "config_missing",
            f"project {project.project_id!r} has no test_command: set it with {where} "
            f'{{"test_command": "pytest -q"}} or LOGCENTER_AGENT_TEST_COMMAND on the agent',
        )
    agent = project.agent_settings
    return ProjectConfig(
        slug=project.project_id,
        repo_url=repo_url,
        local_path=local_path,
        test_command=test_command,
        default_branch=project.default_branch or settings.default_branch,
        max_files=agent.max_files or settings.max_files,
        max_lines=agent.max_lines or settings.max_lines,
        test_patterns=agent.test_patterns or settings.test_patterns,
        require_regression_test=(
            settings.require_regression_test
            if agent.require_regression_test is None
            else agent.require_regression_test
        ),
        fixer=agent.fixer or settings.fixer,
        timeout=float(agent.timeout_seconds or settings.timeout),
        max_turns=agent.max_turns or settings.max_turns,
        max_budget_usd=agent.max_budget_usd or settings.max_budget_usd,
    )


@dataclass(frozen=True)
class Setup:
    """What the prepare step worked out, which the later steps read: the agent's settings, the bug's report,
    the project's settings, the fixer and the forge."""

    settings: AgentSettings
    workdir: Path  # the agent's: repository mirrors, worktrees, prompt files
    secret_masker: Masker  # the agent's secrets, on everything the run reports
    detail: BugDetail
    config: ProjectConfig
    masker: Masker  # with the project's own rules, on everything taken from the report
    fixer: fixers.Fixer
    target: forge.ForgeTarget | None  # where the fix is pushed; None when the agent does not push
    fixer_env: dict[str, str]
    test_env: dict[str, str]


def make_fixer(settings: AgentSettings, name: str) -> fixers.Fixer:
    """The fixer a project chose. The executable path option is for the agent's own fixer; a project's
    other choice is found on PATH."""
    path = settings.fixer_path if name == settings.fixer else None
    return fixers.make(name, command=settings.fixer_command, path=path)


@dataclass(frozen=True)
class Checkout:
    """The worktree the fixer works in, on the fix's branch."""

    repo: Repository
    worktree: Path
    branch: str
    base: str  # the commit the fix is judged against: its new tests must fail there
    head: str | None  # a revision's: the branch's head on the remote, where the worktree starts
    default_branch: str
    name: str  # bug-<id>-<random>: the worktree's name and the prompt file's

    def where(self) -> str:
        """The branch and commits, for the bug's history."""
        if self.head is None:
            return f"on branch {self.branch} from {self.base[:12]}"
        return f"on branch {self.branch} at {self.head[:12]} (forked from {self.base[:12]})"


def revision_branch(repo: Repository, revision: RevisionTask, default_branch: str) -> tuple[str, str, str]:
    """The revised fix's branch, its head on the remote, and the commit it forked from (what the new
    tests must fail on)."""
    branch = revision.branch_name
    if not branch:
        raise GitError("the fix to revise has no branch recorded on the bug")
    head = repo.resolve(f"refs/remotes/origin/{branch}")
    if head is None:
        raise GitError(
            f"branch {branch!r} of PR #{revision.pr_number} is not in {safe_url(repo.remote_url)} "
            "(deleted or never pushed): there is no fix to revise"
        )
    fork = repo.merge_base(head, f"refs/remotes/origin/{default_branch}") or repo.merge_base(
        head, f"refs/heads/{default_branch}"
    )
    if fork is None:
        raise GitError(f"branch {branch!r} shares no history with {default_branch!r}")
    return branch, head, fork


def checkout(bug: ClaimedBug, setup: Setup, attempt: Attempt) -> Checkout:
    """A worktree of the project's repository: a new branch from the base commit, or a revision's branch
    at its head."""
    config, target, revision, workdir = setup.config, setup.target, bug.revision_request, setup.workdir
    credentials = target.credentials(config.repo_url) if target and config.repo_url else None
    name = f"bug-{bug.id}-{secrets.token_hex(3)}"
    head = None
    try:
        if config.local_path:
            repo = Repository.local(Path(config.local_path), config.repo_url, credentials)
        else:
            assert config.repo_url
            repo = Repository.mirror(workdir, config.repo_url, credentials)
        attempt.repo = repo
        default_branch = config.default_branch or repo.remote_default_branch() or "main"
        tree_path = workdir / "worktrees" / name
        if revision is None:
            base = repo.base(default_branch, bug.commit_hash)
            branch = repo.free_branch(f"fix/auto-{datetime.now(UTC):%Y%m%d-%H%M}-{bug.id}")
            worktree = repo.add_worktree(tree_path, branch=branch, base=base)
        else:
            branch, head, base = revision_branch(repo, revision, default_branch)
            worktree = repo.add_worktree(tree_path, branch=branch, base=head)
    except GitError as exc:
        raise Failure("checkout_failed", setup.secret_masker.text(str(exc))) from exc
    attempt.worktree = worktree
    return Checkout(repo, worktree, branch, base, head, default_branch, name)
