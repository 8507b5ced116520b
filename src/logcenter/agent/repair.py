"""One bug, start to finish: project settings, worktree, prompt, fixer, verification, commit, push, PR,
report. Every way it can fail ends in a FAILED report whose reason starts with the step's code.

A revision (a reviewer asked for changes: the claimed bug carries `revision_request`) takes the same steps on
the fix's own branch: its worktree is the branch's head, the prompt adds the reviewers' comments, the whole
branch is verified again against the commit it forked from, a new commit is pushed on top (no force push),
and the agent replies on the PR instead of opening one."""

from __future__ import annotations

import os
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from logcenter.agent import environment, fixers, forge, prompt, text, verify
from logcenter.agent.client import ApiError, Client
from logcenter.agent.git import (
    Change,
    GitError,
    Repository,
    apply_patch,
    commit,
    safe_url,
    stage_all,
    staged_changes,
    staged_diff,
)
from logcenter.agent.masking import Masker, project_rules
from logcenter.agent.options import AgentSettings
from logcenter.agent.progress import Progress
from logcenter.bugs.schemas import BugDetail
from logcenter.projects.schemas import ProjectRead
from logcenter.repair.schemas import ClaimedBug, RepairReportIn
from logcenter.revisions.schemas import RevisionTask

MAX_DIFF = 500_000
MAX_OUTPUT = 60_000


class Failure(Exception):
    """The run failed at step `code`: FAILED with `code: message` and the evidence."""

    def __init__(self, code: str, message: str, evidence: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.evidence = evidence


class Cancelled(Exception):
    """The agent is stopping (SIGTERM) or lost the lease: give the bug back, or leave it."""


@dataclass
class Job:
    """A bug being fixed, with the flag that stops it."""

    bug: ClaimedBug
    cancel: threading.Event = field(default_factory=threading.Event)
    why: str = ""  # "stop" (give the bug back) or "lost" (the lease is gone: touch nothing)
    step: str = "claimed"

    def stop(self, why: str) -> None:
        if not self.cancel.is_set():
            self.why = why
            self.cancel.set()

    def check(self) -> None:
        if self.cancel.is_set():
            raise Cancelled(self.why)


@dataclass
class Outcome:
    bug_id: int
    status: str  # PENDING_REVIEW / FAILED / RELEASED / LOST / DRY_RUN
    reason: str | None = None
    message: str = ""
    pr_number: int | None = None
    pr_url: str | None = None
    branch: str | None = None
    report: RepairReportIn | None = None


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


class Steps:
    """Durations per step, for the report."""

    def __init__(self) -> None:
        self.durations: dict[str, float] = {}
        self.start = time.monotonic()

    @contextmanager
    def __call__(self, name: str, job: Job) -> Iterator[None]:
        job.step = name
        begin = time.monotonic()
        try:
            yield
        finally:
            self.durations[name] = round(self.durations.get(name, 0.0) + time.monotonic() - begin, 3)

    @property
    def total(self) -> float:
        return round(time.monotonic() - self.start, 3)


@dataclass
class Attempt:
    """What the run has got so far: a failed report tells it, and the clean-up removes what it made."""

    fixer: str | None = None
    analysis: str | None = None
    modified: list[str] = field(default_factory=list)
    diff: str | None = None
    test_passed: bool | None = None
    branch_kept: str | None = None  # the branch the verified fix is committed on
    repo: Repository | None = None
    worktree: Path | None = None
    base_worktree: Path | None = None  # the new tests alone on the base commit
    prompt_file: Path | None = None
    timings: dict[str, float] = field(default_factory=dict)  # fixer_run, tests_after, tests_before


# ----------------------------------------------------------------------------- prepare the worktree
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


# --------------------------------------------------------------------------------------- run the fixer
@dataclass(frozen=True)
class Fixed:
    """The fixer's run, as the report and the pull request tell it."""

    run: fixers.FixerRun
    cost: str  # turns, dollars, tokens, seconds: what the fixer reported
    analysis: str  # the model's own account of the fix


def run_fixer(job: Job, setup: Setup, tree: Checkout, attempt: Attempt) -> Fixed:
    """The fixer on the worktree, with the prompt in a file of its own outside it; FAILED when the fixer
    says it failed."""
    config = setup.config
    built = prompt.build(
        setup.detail,
        test_command=config.test_command,
        test_patterns=config.test_patterns,
        masker=setup.masker,
        revision=job.bug.revision_request,
        base=tree.base,
    )
    prompt_dir = setup.workdir / "prompts"
    prompt_dir.mkdir(parents=True, exist_ok=True)
    prompt_file = prompt_dir / f"{tree.name}.txt"
    attempt.prompt_file = prompt_file
    fd = os.open(prompt_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(built.text)
    fix_job = fixers.FixJob(
        prompt=built,
        prompt_file=prompt_file,
        worktree=tree.worktree,
        test_command=config.test_command,
        bug_file=job.bug.file_path,
        env=setup.fixer_env,
        timeout=config.timeout,
        max_turns=config.max_turns,
        max_budget_usd=config.max_budget_usd,
        model=setup.settings.model,
        cancel=job.cancel,
    )
    try:
        run = setup.fixer.run(fix_job)
    except fixers.FixerMissing as exc:
        raise Failure("config_missing", str(exc)) from exc
    attempt.timings["fixer_run"] = round(run.seconds, 3)
    return _account(run, setup, attempt)


def _account(run: fixers.FixerRun, setup: Setup, attempt: Attempt) -> Fixed:
    """What the fixer says it did and what it cost; FAILED when it says it failed."""
    cost = ", ".join(
        part
        for part in (
            f"{run.turns} turns" if run.turns is not None else "",
            f"${run.cost_usd:.4f}" if run.cost_usd is not None else "",
            f"{run.tokens} tokens" if run.tokens is not None else "",
            f"{run.seconds:.1f} s",
        )
        if part
    )
    analysis = run.analysis.strip()
    attempt.analysis = setup.secret_masker.text(
        (analysis + "\n\n" if analysis else "")
        + f"[{setup.fixer.name}: {cost}]"
        + (f" [permission denials: {', '.join(run.denials)}]" if run.denials else "")
    )[:100_000]
    if not run.ok:
        raise Failure(run.reason or "fixer_error", run.detail, run.output_tail)
    return Fixed(run, cost, analysis)


# ------------------------------------------------------------------------------------------ verify
@dataclass(frozen=True)
class Verified:
    """The fix as the agent verified it."""

    changes: list[Change]  # this run's change (a revision's: on top of the fix)
    evidence: verify.Evidence
    text: str  # the evidence for the report and the PR, masked


def verify_fix(job: Job, setup: Setup, tree: Checkout, fixed: Fixed, attempt: Attempt) -> Verified:
    """The change is staged and checked (not empty, allowed files, within the limits), then the tests: the
    new ones fail on the base commit, the whole suite passes with the fix."""
    config, revision, worktree = setup.config, job.bug.revision_request, tree.worktree
    changes = stage_all(worktree)  # this run's change (a revision's: on top of the fix)
    attempt.modified = [c.path for c in changes]
    attempt.diff = setup.secret_masker.text(staged_diff(worktree))[:MAX_DIFF] or None
    try:
        if not changes and fixed.run.denials:
            raise verify.Rejected(
                "no_change",
                f"the fixer changed no file; its tools were denied: {', '.join(fixed.run.denials)}",
            )
        if not changes:
            raise verify.Rejected("no_change", f"{setup.fixer.name} reported success but changed no file")
        # The whole fix is judged: a revision's branch since it forked, as the PR shows it.
        whole = changes if revision is None else staged_changes(worktree, against=tree.base)
        verify.check_diff(changes, max_files=config.max_files, max_lines=config.max_lines)
        if revision is not None:
            verify.check_diff(whole, max_files=config.max_files, max_lines=config.max_lines)
        evidence = _evidence(job, setup, tree, whole, attempt)
    except verify.Rejected as rejected:
        if rejected.code == "cancelled":
            raise Cancelled(job.why) from rejected
        raise Failure(rejected.code, str(rejected), rejected.evidence) from rejected
    text = setup.secret_masker.text(evidence.text(config.test_command))[-MAX_OUTPUT:]
    return Verified(changes, evidence, text)


def _evidence(
    job: Job, setup: Setup, tree: Checkout, changes: list[Change], attempt: Attempt
) -> verify.Evidence:
    """The tests: the whole suite on the fix (pass-to-pass), the fix's new tests alone on the base commit
    (fail-to-pass)."""
    worktree, repo, config, env = tree.worktree, tree.repo, setup.config, setup.test_env
    timeout = setup.settings.test_timeout
    evidence = verify.Evidence()
    evidence.test_files = [
        c.path for c in changes if c.status != "D" and verify.matches(c.path, config.test_patterns)
    ]
    if not evidence.test_files:
        if config.require_regression_test:
            raise verify.Rejected(
                "no_regression_test",
                "the fix, against the base branch, adds or changes no test file (patterns: "
                f"{', '.join(config.test_patterns[:10])}); the project requires a regression test",
            )
        evidence.unverified = (
            "no regression test (the project does not require one), so no test was seen to fail before "
            "the fix"
        )
    after = verify.run_tests(config.test_command, cwd=worktree, env=env, timeout=timeout, cancel=job.cancel)
    evidence.after = after
    attempt.timings["tests_after"] = round(after.seconds, 3)
    if not after.passed:
        attempt.test_passed = False
        why = f"ran past {timeout:g} s" if after.timed_out else f"exited with {after.exit_code}"
        raise verify.Rejected(
            "tests_failed",
            f"the project's tests fail with the fix applied (`{config.test_command}` {why})",
            evidence.text(config.test_command),
        )
    if evidence.test_files:
        base_tree = repo.add_worktree(
            worktree.with_name(worktree.name + "-base"), branch=None, base=tree.base
        )
        attempt.base_worktree = base_tree
        try:
            patch = staged_diff(worktree, evidence.test_files, binary=True, against=tree.base)
            apply_patch(base_tree, patch)
        except GitError as exc:
            raise verify.Rejected(
                "test_not_failing_before_fix", f"the new tests do not apply alone: {exc}"
            ) from exc
        before = verify.run_tests(
            config.test_command, cwd=base_tree, env=env, timeout=timeout, cancel=job.cancel
        )
        evidence.before = before
        attempt.timings["tests_before"] = round(before.seconds, 3)
        repo.remove_worktree(base_tree)
        attempt.base_worktree = None
        if before.passed:
            attempt.test_passed = True
            raise verify.Rejected(
                "test_not_failing_before_fix",
                f"the new tests ({', '.join(evidence.test_files)}) pass without the fix too, so they do "
                "not reproduce the bug",
                evidence.text(config.test_command),
            )
    attempt.test_passed = True
    return evidence


# ------------------------------------------------------------------------------------------ the run
class Repairer:
    def __init__(self, settings: AgentSettings, client: Client, progress: Progress) -> None:
        self.settings = settings
        self.client = client
        self.progress = progress
        self.secret_masker = Masker(known_secrets=settings.secrets())
        self.masker = Masker(settings.mask_patterns, known_secrets=settings.secrets())
        self.workdir = settings.workdir.resolve()

    def run(self, job: Job) -> Outcome:
        bug = job.bug
        steps = Steps()
        attempt = Attempt()
        try:
            report = self._fix(job, steps, attempt)
        except Cancelled:
            return self._give_back(job)
        except Failure as failure:
            if job.cancel.is_set():
                return self._give_back(job)
            report = self._failed_report(failure, attempt)
        except Exception as exc:  # a bug in the agent must still end the run in a report a person reads
            if job.cancel.is_set():
                return self._give_back(job)
            crash = Failure(
                "agent_error", f"{type(exc).__name__}: {self.secret_masker.text(str(exc))[:1000]}"
            )
            report = self._failed_report(crash, attempt)
        finally:
            self._cleanup(attempt)
        report.duration_seconds = steps.total
        # The test runs inside "verify", apart: the agent's own overhead is the rest (bench/agent.py).
        report.durations = {**steps.durations, **attempt.timings}
        outcome = Outcome(
            bug_id=bug.id,
            status=report.status or "FAILED",
            reason=(report.failure_reason or "").split(":", 1)[0] or None,
            message=report.failure_reason or "",
            pr_number=report.pr_number,
            pr_url=report.pr_url,
            branch=report.branch_name,
            report=report,
        )
        if self.settings.dry_run:
            outcome.status = "DRY_RUN"
            return outcome
        try:
            self.client.report(bug.id, report)
        except Exception as exc:
            outcome.status = "FAILED"
            outcome.message = f"the server refused the report: {exc}"
            if "409" in str(exc):
                outcome.status = "LOST"
        return outcome

    def _fix(self, job: Job, steps: Steps, attempt: Attempt) -> RepairReportIn:
        """The steps of a repair, in order; any of them ends the run with a Failure (or Cancelled)."""
        with steps("prepare", job):
            setup = self._prepare(job, attempt)
        job.check()
        with steps("checkout", job):
            tree = checkout(job.bug, setup, attempt)
        job.check()
        self._step(job, "fixing", f"{self._what(job, setup)} {tree.where()}", branch=tree.branch)
        with steps("fix", job):
            fixed = run_fixer(job, setup, tree, attempt)
        job.check()
        self._step(
            job,
            "verifying",
            f"{setup.fixer.name} finished ({fixed.cost}); running `{setup.config.test_command}`",
        )
        with steps("verify", job):
            verified = verify_fix(job, setup, tree, fixed, attempt)
        job.check()
        with steps("commit", job):
            sha = self._commit(job, setup, tree)
        attempt.branch_kept = tree.branch
        report = self._report(setup, tree, verified, attempt, sha)
        if not self.settings.pushes:
            return self._not_pushed(report, tree, sha)
        with steps("push", job):
            self._push(tree, verified)
        self._step(job, "pushed", f"{tree.branch} ({sha[:12]})", branch=tree.branch, commit=sha)
        with steps("pr", job):
            self._open_pull_request_or_reply(job, setup, tree, fixed, verified, sha, report)
        return report

    def _prepare(self, job: Job, attempt: Attempt) -> Setup:
        """The bug's report and its project's settings, the fixer (installed) and the forge to push to."""
        settings = self.settings
        detail = self.client.bug(job.bug.id, occurrences=5)
        project = self.client.project(job.bug.project_id)
        config = project_config(project, settings)
        # The project's scrubbing rules (its extra sensitive and safe fields) on everything taken from the
        # report, in the prompt, the commit message and the pull request.
        masker = self.masker.with_rules(project_rules(project))
        fixer = make_fixer(settings, config.fixer)
        attempt.fixer = fixer.name
        target = None
        if settings.pushes:
            try:
                target = forge.resolve(project, settings, config.repo_url or "")
            except forge.ForgeMissing as exc:
                raise Failure("config_missing", str(exc)) from exc
        fixer_env = environment.scrubbed(
            fixer.name, secrets=settings.secrets(), extra_allowed=settings.fixer_env
        )
        test_env = environment.scrubbed("command", secrets=settings.secrets())
        try:
            if fixer.name != "command":
                fixer.resolve()
        except fixers.FixerMissing as exc:
            raise Failure("config_missing", str(exc)) from exc
        return Setup(
            settings,
            self.workdir,
            self.secret_masker,
            detail,
            config,
            masker,
            fixer,
            target,
            fixer_env,
            test_env,
        )

    # ------------------------------------------------------------------- commit, push and open the PR
    def _what(self, job: Job, setup: Setup) -> str:
        revision = job.bug.revision_request
        return setup.fixer.name if revision is None else f"revision {revision.number}: {setup.fixer.name}"

    def _bug_url(self, job: Job) -> str:
        return f"{self.settings.server}/bugs/{job.bug.id}"

    def _commit(self, job: Job, setup: Setup, tree: Checkout) -> str:
        bug, revision, masker = job.bug, job.bug.revision_request, setup.masker
        message = (
            text.commit_message(bug, masker, self._bug_url(job))
            if revision is None
            else text.revision_commit_message(
                bug, masker, self._bug_url(job), number=revision.number, asked_by=_asked_by(revision)
            )
        )
        return commit(
            tree.worktree, message=message, name=self.settings.git_name, email=self.settings.git_email
        )

    def _report(
        self, setup: Setup, tree: Checkout, verified: Verified, attempt: Attempt, sha: str
    ) -> RepairReportIn:
        """The report of the verified, committed fix: PENDING_REVIEW once it is pushed and its PR open."""
        return RepairReportIn(
            status="PENDING_REVIEW",
            agent=self.settings.name,
            fixer=setup.fixer.name,
            analysis=attempt.analysis,
            modified_files=attempt.modified,
            diff=attempt.diff,
            test_passed=True,
            test_output=verified.text,
            verification=verified.evidence.verification(self.secret_masker.text(setup.config.test_command)),
            branch_name=tree.branch,
            head_sha=sha,
        )

    def _not_pushed(self, report: RepairReportIn, tree: Checkout, sha: str) -> RepairReportIn:
        where = safe_url(str(tree.repo.path))
        report.status = "FAILED"
        report.failure_reason = (
            f"not_pushed: verified fix committed as {sha[:12]} on branch {tree.branch} in {where}; "
            f"not pushed and no pull request ({'--dry-run' if self.settings.dry_run else '--no-push'})"
        )
        return report

    def _push(self, tree: Checkout, verified: Verified) -> None:
        try:
            tree.repo.push(tree.branch)
        except GitError as exc:
            raise Failure("push_failed", self.secret_masker.text(str(exc)), verified.text) from exc

    def _open_pull_request_or_reply(
        self,
        job: Job,
        setup: Setup,
        tree: Checkout,
        fixed: Fixed,
        verified: Verified,
        sha: str,
        report: RepairReportIn,
    ) -> None:
        """A first fix's pull request, or a revision's reply on its PR."""
        revision = job.bug.revision_request
        if revision is None:
            self._open_pull_request(job, setup, tree, fixed, verified, report)
        else:
            self._reply(job, setup, revision, fixed, verified, sha, report)

    def _open_pull_request(
        self,
        job: Job,
        setup: Setup,
        tree: Checkout,
        fixed: Fixed,
        verified: Verified,
        report: RepairReportIn,
    ) -> None:
        bug, masker = job.bug, setup.masker
        body = text.pr_body(
            bug,
            bug_url=self._bug_url(job),
            masker=masker,
            analysis=fixed.analysis,
            changes=verified.changes,
            evidence=verified.evidence,
            test_command=setup.config.test_command,
            fixer=setup.fixer.name,
            cost=fixed.cost,
        )
        assert setup.target is not None
        try:
            client = forge.open_forge(setup.target)
            try:
                pr = client.create_pull_request(
                    head=tree.branch, base=tree.default_branch, title=text.title(bug, masker), body=body
                )
            finally:
                client.close()
        except Exception as exc:
            raise Failure(
                "pr_failed",
                f"branch {tree.branch} was pushed, but opening the pull request failed: "
                f"{self.secret_masker.text(str(exc))[:1000]}",
                verified.text,
            ) from exc
        report.pr_number = pr.number
        report.pr_url = pr.url
        self.progress.emit("pr", bug.id, f"PR #{pr.number} {pr.url}", pr_number=pr.number, pr_url=pr.url)

    def _reply(
        self,
        job: Job,
        setup: Setup,
        revision: RevisionTask,
        fixed: Fixed,
        verified: Verified,
        sha: str,
        report: RepairReportIn,
    ) -> None:
        """The agent's comment on the PR: what the revision changed. The commit is pushed already, so a
        forge that refuses the comment fails nothing; the history says the reply is missing."""
        report.pr_number, report.pr_url = revision.pr_number, revision.pr_url
        if revision.pr_number is None:
            return
        body = text.revision_reply(
            job.bug,
            bug_url=self._bug_url(job),
            masker=setup.masker,
            number=revision.number,
            asked_by=_asked_by(revision),
            sha=sha,
            analysis=fixed.analysis,
            changes=verified.changes,
            evidence=verified.evidence,
            test_command=setup.config.test_command,
            fixer=setup.fixer.name,
            cost=fixed.cost,
        )
        assert setup.target is not None
        try:
            client = forge.open_forge(setup.target)
            try:
                client.comment(revision.pr_number, body)
            finally:
                client.close()
        except Exception as exc:
            self._step(
                job,
                "reply_failed",
                f"PR #{revision.pr_number}: the revision is pushed, but the reply on the PR failed: "
                f"{self.secret_masker.text(str(exc))[:500]}",
            )
            return
        self.progress.emit("replied", job.bug.id, f"PR #{revision.pr_number}: revision {revision.number}")

    # ------------------------------------------------------------------------------------------ report
    def _give_back(self, job: Job) -> Outcome:
        if job.why == "lost":
            return Outcome(job.bug.id, "LOST", message=f"lease lost during {job.step}")
        note = f"Repair agent {self.settings.name} stopped during {job.step}; bug given back"
        if not self.settings.dry_run:
            try:
                self.client.release(agent=self.settings.name, bug_ids=[job.bug.id], note=note)
            except Exception as exc:
                return Outcome(job.bug.id, "LOST", message=f"release failed ({exc}); the lease will expire")
        return Outcome(job.bug.id, "RELEASED", message=note)

    def _failed_report(self, failure: Failure, attempt: Attempt) -> RepairReportIn:
        message = f"{failure.code}: {self.secret_masker.text(str(failure))}"
        evidence = self.secret_masker.text(failure.evidence)[-MAX_OUTPUT:]
        return RepairReportIn(
            status="FAILED",
            agent=self.settings.name,
            fixer=attempt.fixer or self.settings.fixer,
            analysis=attempt.analysis,
            modified_files=attempt.modified,
            diff=attempt.diff,
            test_passed=attempt.test_passed,
            test_output=evidence or None,
            branch_name=attempt.branch_kept,
            failure_reason=message[:10_000],
        )

    def _cleanup(self, attempt: Attempt) -> None:
        for path in (attempt.base_worktree, attempt.worktree):
            if attempt.repo is not None and path is not None:
                attempt.repo.remove_worktree(path)
        if attempt.prompt_file is not None:
            attempt.prompt_file.unlink(missing_ok=True)

    def _step(self, job: Job, step: str, message: str, **fields: Any) -> None:
        """A step on stderr and in the bug's history (best effort: the history is for people)."""
        self.progress.emit(step, job.bug.id, message, **fields)
        if self.settings.dry_run:
            return
        try:
            self.client.progress(agent=self.settings.name, bug_id=job.bug.id, step=step, note=message)
        except ApiError as exc:
            self.progress.emit("history_failed", job.bug.id, str(exc))


def _asked_by(revision: RevisionTask) -> str:
    return ", ".join(revision.requested_by) or "a reviewer"
