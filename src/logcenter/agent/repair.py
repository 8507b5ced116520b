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


class Repairer:
    def __init__(self, settings: AgentSettings, client: Client, progress: Progress) -> None:
        self.settings = settings
        self.client = client
        self.progress = progress
        self.secret_masker = Masker(known_secrets=settings.secrets())
        self.masker = Masker(settings.mask_patterns, known_secrets=settings.secrets())
        self.workdir = settings.workdir.resolve()

    # ------------------------------------------------------------------------------------------- the run
    def _fixer(self, name: str) -> fixers.Fixer:
        # The executable path option is for the agent's own fixer; a project's other choice is found on PATH.
        path = self.settings.fixer_path if name == self.settings.fixer else None
        return fixers.make(name, command=self.settings.fixer_command, path=path)

    def run(self, job: Job) -> Outcome:
        bug = job.bug
        steps = Steps()
        state: dict[str, Any] = {}
        try:
            report = self._fix(job, steps, state)
        except Cancelled:
            return self._give_back(job)
        except Failure as failure:
            if job.cancel.is_set():
                return self._give_back(job)
            report = self._failed_report(failure, steps, state)
        except Exception as exc:  # a bug in the agent must still end the run in a report a person reads
            if job.cancel.is_set():
                return self._give_back(job)
            crash = Failure(
                "agent_error", f"{type(exc).__name__}: {self.secret_masker.text(str(exc))[:1000]}"
            )
            report = self._failed_report(crash, steps, state)
        finally:
            self._cleanup(state)
        report.duration_seconds = steps.total
        # The test runs inside "verify", apart: the agent's own overhead is the rest (bench/agent.py).
        report.durations = {
            **steps.durations,
            **{k: state[k] for k in ("fixer_run", "tests_after", "tests_before") if k in state},
        }
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

    def _failed_report(self, failure: Failure, steps: Steps, state: dict[str, Any]) -> RepairReportIn:
        message = f"{failure.code}: {self.secret_masker.text(str(failure))}"
        evidence = self.secret_masker.text(failure.evidence)[-MAX_OUTPUT:]
        return RepairReportIn(
            status="FAILED",
            agent=self.settings.name,
            fixer=state.get("fixer", self.settings.fixer),
            analysis=state.get("analysis"),
            modified_files=state.get("modified", []),
            diff=state.get("diff"),
            test_passed=state.get("test_passed"),
            test_output=evidence or None,
            branch_name=state.get("branch_kept"),
            failure_reason=message[:10_000],
        )

    def _cleanup(self, state: dict[str, Any]) -> None:
        repo: Repository | None = state.get("repo")
        for key in ("base_worktree", "worktree"):
            path = state.get(key)
            if repo is not None and path is not None:
                repo.remove_worktree(path)
        prompt_file: Path | None = state.get("prompt_file")
        if prompt_file is not None:
            prompt_file.unlink(missing_ok=True)

    def _step(self, job: Job, step: str, message: str, **fields: Any) -> None:
        """A step on stderr and in the bug's history (best effort: the history is for people)."""
        self.progress.emit(step, job.bug.id, message, **fields)
        if self.settings.dry_run:
            return
        try:
            self.client.progress(agent=self.settings.name, bug_id=job.bug.id, step=step, note=message)
        except ApiError as exc:
            self.progress.emit("history_failed", job.bug.id, str(exc))

    # ------------------------------------------------------------------------------------------ the steps
    def _revision_branch(
        self, repo: Repository, revision: RevisionTask, default_branch: str
    ) -> tuple[str, str, str]:
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

    def _fix(self, job: Job, steps: Steps, state: dict[str, Any]) -> RepairReportIn:
        bug, settings = job.bug, self.settings
        revision = bug.revision_request
        with steps("prepare", job):
            detail = self.client.bug(bug.id, occurrences=5)
            project = self.client.project(bug.project_id)
            config = project_config(project, settings)
            # The project's scrubbing rules (its extra sensitive and safe fields) on everything taken from
            # the report, in the prompt, the commit message and the pull request.
            masker = self.masker.with_rules(project_rules(project))
            fixer = self._fixer(config.fixer)
            state["fixer"] = fixer.name
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
        job.check()

        with steps("checkout", job):
            credentials = target.credentials(config.repo_url) if target and config.repo_url else None
            try:
                if config.local_path:
                    repo = Repository.local(Path(config.local_path), config.repo_url, credentials)
                else:
                    assert config.repo_url
                    repo = Repository.mirror(self.workdir, config.repo_url, credentials)
                state["repo"] = repo
                default_branch = config.default_branch or repo.remote_default_branch() or "main"
                suffix = secrets.token_hex(3)
                tree_path = self.workdir / "worktrees" / f"bug-{bug.id}-{suffix}"
                if revision is None:
                    base = repo.base(default_branch, bug.commit_hash)
                    branch = repo.free_branch(f"fix/auto-{datetime.now(UTC):%Y%m%d-%H%M}-{bug.id}")
                    worktree = repo.add_worktree(tree_path, branch=branch, base=base)
                else:
                    branch, head, base = self._revision_branch(repo, revision, default_branch)
                    worktree = repo.add_worktree(tree_path, branch=branch, base=head)
            except GitError as exc:
                raise Failure("checkout_failed", self.secret_masker.text(str(exc))) from exc
            state["worktree"] = worktree
        job.check()
        if revision is None:
            self._step(job, "fixing", f"{fixer.name} on branch {branch} from {base[:12]}", branch=branch)
        else:
            self._step(
                job,
                "fixing",
                f"revision {revision.number}: {fixer.name} on branch {branch} at {head[:12]} (forked from "
                f"{base[:12]})",
                branch=branch,
            )

        with steps("fix", job):
            built = prompt.build(
                detail,
                test_command=config.test_command,
                test_patterns=config.test_patterns,
                masker=masker,
                revision=revision,
                base=base,
            )
            prompt_dir = self.workdir / "prompts"
            prompt_dir.mkdir(parents=True, exist_ok=True)
            prompt_file = prompt_dir / f"bug-{bug.id}-{suffix}.txt"
            state["prompt_file"] = prompt_file
            fd = os.open(prompt_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(built.text)
            fix_job = fixers.FixJob(
                prompt=built,
                prompt_file=prompt_file,
                worktree=worktree,
                test_command=config.test_command,
                bug_file=bug.file_path,
                env=fixer_env,
                timeout=config.timeout,
                max_turns=config.max_turns,
                max_budget_usd=config.max_budget_usd,
                model=settings.model,
                cancel=job.cancel,
            )
            try:
                run = fixer.run(fix_job)
            except fixers.FixerMissing as exc:
                raise Failure("config_missing", str(exc)) from exc
        state["fixer_run"] = round(run.seconds, 3)
        job.check()
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
        state["analysis"] = self.secret_masker.text(
            (analysis + "\n\n" if analysis else "")
            + f"[{fixer.name}: {cost}]"
            + (f" [permission denials: {', '.join(run.denials)}]" if run.denials else "")
        )[:100_000]
        if not run.ok:
            raise Failure(run.reason or "fixer_error", run.detail, run.output_tail)

        self._step(job, "verifying", f"{fixer.name} finished ({cost}); running `{config.test_command}`")
        with steps("verify", job):
            changes = stage_all(worktree)  # this run's change (a revision's: on top of the fix)
            state["modified"] = [c.path for c in changes]
            state["diff"] = self.secret_masker.text(staged_diff(worktree))[:MAX_DIFF] or None
            try:
                if not changes and run.denials:
                    raise verify.Rejected(
                        "no_change",
                        f"the fixer changed no file; its tools were denied: {', '.join(run.denials)}",
                    )
                if not changes:
                    raise verify.Rejected("no_change", f"{fixer.name} reported success but changed no file")
                # The whole fix is judged: a revision's branch since it forked, as the PR shows it.
                whole = changes if revision is None else staged_changes(worktree, against=base)
                verify.check_diff(changes, max_files=config.max_files, max_lines=config.max_lines)
                if revision is not None:
                    verify.check_diff(whole, max_files=config.max_files, max_lines=config.max_lines)
                evidence = self._verify(job, repo, worktree, base, whole, config, test_env, state)
            except verify.Rejected as rejected:
                if rejected.code == "cancelled":
                    raise Cancelled(job.why) from rejected
                raise Failure(rejected.code, str(rejected), rejected.evidence) from rejected
        evidence_text = self.secret_masker.text(evidence.text(config.test_command))[-MAX_OUTPUT:]
        job.check()

        bug_url = f"{settings.server}/bugs/{bug.id}"
        asked_by = ", ".join(revision.requested_by) or "a reviewer" if revision is not None else ""
        with steps("commit", job):
            message = (
                text.commit_message(bug, masker, bug_url)
                if revision is None
                else text.revision_commit_message(
                    bug, masker, bug_url, number=revision.number, asked_by=asked_by
                )
            )
            sha = commit(worktree, message=message, name=settings.git_name, email=settings.git_email)
        state["branch_kept"] = branch
        report = RepairReportIn(
            status="PENDING_REVIEW",
            agent=settings.name,
            fixer=fixer.name,
            analysis=state["analysis"],
            modified_files=state["modified"],
            diff=state["diff"],
            test_passed=True,
            test_output=evidence_text,
            verification=evidence.verification(self.secret_masker.text(config.test_command)),
            branch_name=branch,
            head_sha=sha,
        )
        if not settings.pushes:
            where = safe_url(str(repo.path))
            report.status = "FAILED"
            report.failure_reason = (
                f"not_pushed: verified fix committed as {sha[:12]} on branch {branch} in {where}; not pushed "
                f"and no pull request ({'--dry-run' if settings.dry_run else '--no-push'})"
            )
            return report

        assert target is not None
        with steps("push", job):
            try:
                repo.push(branch)
            except GitError as exc:
                raise Failure("push_failed", self.secret_masker.text(str(exc)), evidence_text) from exc
        self._step(job, "pushed", f"{branch} ({sha[:12]})", branch=branch, commit=sha)

        if revision is not None:
            reply = text.revision_reply(
                bug,
                bug_url=bug_url,
                masker=masker,
                number=revision.number,
                asked_by=asked_by,
                sha=sha,
                analysis=analysis,
                changes=changes,
                evidence=evidence,
                test_command=config.test_command,
                fixer=fixer.name,
                cost=cost,
            )
            with steps("pr", job):
                self._reply(job, target, revision, reply)
            report.pr_number, report.pr_url = revision.pr_number, revision.pr_url
            return report

        with steps("pr", job):
            body = text.pr_body(
                bug,
                bug_url=bug_url,
                masker=masker,
                analysis=analysis,
                changes=changes,
                evidence=evidence,
                test_command=config.test_command,
                fixer=fixer.name,
                cost=cost,
            )
            try:
                client = forge.open_forge(target)
                try:
                    pr = client.create_pull_request(
                        head=branch, base=default_branch, title=text.title(bug, masker), body=body
                    )
                finally:
                    client.close()
            except Exception as exc:
                raise Failure(
                    "pr_failed",
                    f"branch {branch} was pushed, but opening the pull request failed: "
                    f"{self.secret_masker.text(str(exc))[:1000]}",
                    evidence_text,
                ) from exc
        report.pr_number = pr.number
        report.pr_url = pr.url
        self.progress.emit("pr", bug.id, f"PR #{pr.number} {pr.url}", pr_number=pr.number, pr_url=pr.url)
        return report

    def _reply(self, job: Job, target: forge.ForgeTarget, revision: RevisionTask, body: str) -> None:
        """The agent's comment on the PR: what the revision changed. The commit is pushed already, so a
        forge that refuses the comment fails nothing; the history says the reply is missing."""
        if revision.pr_number is None:
            return
        try:
            client = forge.open_forge(target)
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

    def _verify(
        self,
        job: Job,
        repo: Repository,
        worktree: Path,
        base: str,
        changes: list[Any],
        config: ProjectConfig,
        env: dict[str, str],
        state: dict[str, Any],
    ) -> verify.Evidence:
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
        timeout = self.settings.test_timeout
        after = verify.run_tests(
            config.test_command, cwd=worktree, env=env, timeout=timeout, cancel=job.cancel
        )
        evidence.after = after
        state["tests_after"] = round(after.seconds, 3)
        if not after.passed:
            state["test_passed"] = False
            why = f"ran past {timeout:g} s" if after.timed_out else f"exited with {after.exit_code}"
            raise verify.Rejected(
                "tests_failed",
                f"the project's tests fail with the fix applied (`{config.test_command}` {why})",
                evidence.text(config.test_command),
            )
        if evidence.test_files:
            base_tree = repo.add_worktree(worktree.with_name(worktree.name + "-base"), branch=None, base=base)
            state["base_worktree"] = base_tree
            try:
                patch = staged_diff(worktree, evidence.test_files, binary=True, against=base)
                apply_patch(base_tree, patch)
            except GitError as exc:
                raise verify.Rejected(
                    "test_not_failing_before_fix", f"the new tests do not apply alone: {exc}"
                ) from exc
            before = verify.run_tests(
                config.test_command, cwd=base_tree, env=env, timeout=timeout, cancel=job.cancel
            )
            evidence.before = before
            state["tests_before"] = round(before.seconds, 3)
            repo.remove_worktree(base_tree)
            state.pop("base_worktree", None)
            if before.passed:
                state["test_passed"] = True
                raise verify.Rejected(
                    "test_not_failing_before_fix",
                    f"the new tests ({', '.join(evidence.test_files)}) pass without the fix too, so they do "
                    "not reproduce the bug",
                    evidence.text(config.test_command),
                )
        state["test_passed"] = True
        return evidence
